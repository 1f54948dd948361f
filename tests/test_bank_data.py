"""Acceptance on the real public bank-churn data (read from ../shared, never copied)."""

import json

import numpy as np
import pytest

from tests.conftest import EXAMPLE_ROW


def test_mean_test_auc_over_three_split_seeds(cli, bank_csv, tmp_path):
    aucs = []
    for seed in (1, 2, 3):
        a = ["--artifacts", tmp_path / f"s{seed}"]
        ingested = cli(*a, "ingest", bank_csv, "--target", "Exited", "--seed", seed, "--format", "json").json()
        excluded = {e["name"]: e["role"] for e in ingested["excluded"]}
        assert excluded == {"RowNumber": "identifier", "CustomerId": "identifier", "Surname": "ignored"}
        assert ingested["churn_rate"] == pytest.approx(0.2037)
        trained = cli(*a, "train", "--format", "json").json()
        assert trained["cv_roc_auc"] > 0.85
        evaluated = cli(*a, "evaluate", "--format", "json").json()
        assert evaluated["roc_auc"] == trained["test_metrics"]["roc_auc"]
        aucs.append(evaluated["roc_auc"])
    assert np.mean(aucs) >= 0.855, aucs


def test_example_row_from_the_original_project(cli, bank_csv, tmp_path):
    a = ["--artifacts", tmp_path]
    assert cli(*a, "ingest", bank_csv, "--target", "Exited").code == 0
    assert cli(*a, "train", "--model", "hgb").code == 0
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    run = cli(*a, "predict", "--json", row)
    assert run.code == 0, run.stderr
    prediction = run.json()
    assert set(prediction) == {"churn_probability", "churn_label", "risk_level", "confidence", "model_version"}
    # A 35-year-old active customer with two products is a low churn risk in this data.
    assert prediction["churn_probability"] < 0.2 and prediction["risk_level"] == "low"


def test_drift_check_on_the_real_data(cli, bank_csv, tmp_path):
    """No drift on the model's own held-out rows; drift naming the feature when Age or Geography move."""
    import pandas as pd

    a = ["--artifacts", tmp_path / "art"]
    ingested = cli(*a, "ingest", bank_csv, "--target", "Exited", "--seed", "1", "--format", "json").json()
    assert cli(*a, "train").code == 0
    test = pd.read_parquet(tmp_path / "art" / "datasets" / ingested["dataset_id"] / "test.parquet")
    own = tmp_path / "own.csv"
    test.to_csv(own, index=False)
    run = cli(*a, "drift-check", "--current", own, "--format", "json")
    assert run.code == 0, run.json()["reasons"]
    assert run.json()["status"] == "no_drift" and run.json()["performance"]["drift"] is False

    older = test.assign(Age=test["Age"] + 5)
    older_path = tmp_path / "older.csv"
    older.drop(columns="Exited").to_csv(older_path, index=False)
    run = cli(*a, "drift-check", "--current", older_path, "--format", "json")
    assert run.code == 1 and "Age" in run.json()["drifted_features"]
    assert run.json()["features"]["Age"]["drift"] and run.json()["performance"] is None

    remix = test.copy()
    rng = np.random.default_rng(0)
    remix.loc[rng.random(len(remix)) < 0.3, "Geography"] = "Germany"
    remix_path = tmp_path / "remix.parquet"
    remix.to_parquet(remix_path)
    run = cli(*a, "drift-check", "--current", remix_path, "--format", "json")
    assert run.code == 1 and "Geography" in run.json()["drifted_features"]
    assert "Age" not in run.json()["drifted_features"]
