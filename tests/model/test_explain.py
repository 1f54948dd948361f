"""predict --explain: each row's top reasons, checked against the simulated churn mechanism and
against re-scoring the row with the feature set to its typical value."""

import json

import numpy as np
import pytest

from churnctl.synthetic import simulate_customers

DRIVERS = {"Age", "NumOfProducts", "IsActiveMember", "Geography", "Gender", "Balance"}  # the mechanism's
NOISE = {"HasCrCard", "EstimatedSalary", "Tenure"}  # no part in it


@pytest.fixture(scope="module")
def explained(tmp_path_factory):

    folder = tmp_path_factory.mktemp("explain")
    frame = simulate_customers(300, seed=21).drop(columns="Exited")
    rows = json.loads(frame.to_json(orient="records"))
    path = folder / "rows.json"
    path.write_text(json.dumps(rows))
    return rows, path


def test_the_reasons_are_the_features_of_the_churn_mechanism(cli, artifacts, explained):
    rows, path = explained
    run = cli("--artifacts", artifacts, "predict", "--json", path, "--explain")
    assert run.code == 0, run.stderr
    predictions = run.json()  # an array for an array
    assert len(predictions) == len(rows)
    top = [p["reasons"][0]["feature"] for p in predictions if p["reasons"]]
    assert np.mean([t in DRIVERS for t in top]) >= 0.9
    assert np.mean([t in NOISE for t in top]) <= 0.05
    many = [p for p, r in zip(predictions, rows, strict=True) if r["NumOfProducts"] >= 3]
    assert many and all(p["reasons"][0]["feature"] == "NumOfProducts" for p in many)
    assert all(p["reasons"][0]["effect"] > 0.1 for p in many)  # three or four products: far more churn
    for p, row in zip(predictions, rows, strict=True):
        assert len(p["reasons"]) <= 3
        sizes = [abs(r["effect"]) for r in p["reasons"]]
        assert sizes == sorted(sizes, reverse=True)
        assert all(r["value"] == row[r["feature"]] for r in p["reasons"])  # the value as sent


def test_an_effect_is_the_change_when_the_feature_takes_its_typical_value(cli, artifacts, explained, tmp_path):
    from churnctl.model.explain import typical_values
    from churnctl.model.loading import load_model, load_reference
    from churnctl.registry import Registry

    rows, path = explained
    registry = Registry(artifacts)
    model = load_model(registry)
    typical = typical_values(load_reference(registry, model)[0], model.schema)
    row = rows[0]
    first = cli("--artifacts", artifacts, "predict", "--json", path, "--explain").json()[0]
    reason = first["reasons"][0]
    changed = {**row, reason["feature"]: typical[reason["feature"]]}
    again = tmp_path / "changed.json"
    again.write_text(json.dumps(changed))
    rescored = cli("--artifacts", artifacts, "predict", "--json", again).json()
    assert first["churn_probability"] - rescored["churn_probability"] == pytest.approx(reason["effect"], abs=2e-6)


def test_explain_goes_with_json_and_shows_in_text(cli, artifacts, explained, sim_csv):
    _, path = explained
    run = cli("--artifacts", artifacts, "predict", "--input", sim_csv, "--explain")
    assert run.code == 2 and "--explain goes with --json" in run.stderr
    text = cli("--artifacts", artifacts, "predict", "--json", path, "--explain", "--format", "text")
    assert text.code == 0 and "reasons" in text.stdout and "NumOfProducts=" in text.stdout
