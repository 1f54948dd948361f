"""Bad data handled the same way by every command: labels written as decimals, values too large to
model, infinite numbers, numeric columns with many non-numeric cells, one-class labelled batches,
and settings that would silently disable a rule."""

import json

import numpy as np
import pandas as pd
import pytest

from churnctl.registry import Registry
from tests.conftest import EXAMPLE_ROW


@pytest.fixture
def frame(sim_csv):
    return pd.read_csv(sim_csv)


def test_labels_written_as_decimals_are_the_integer_labels(cli, artifacts, frame, tmp_path):
    decimal = frame.copy()
    decimal["Exited"] = decimal["Exited"].astype(float)
    decimal.loc[3, "Exited"] = np.nan  # pandas then writes 0.0 and 1.0
    path = tmp_path / "decimal.csv"
    decimal.to_csv(path, index=False)
    assert "1.0" in path.read_text()
    a = ["--artifacts", artifacts]
    ingested = cli(*a, "ingest", path, "--target", "Exited", "--format", "json")
    assert ingested.code == 0, ingested.stderr
    manifest = Registry(artifacts).dataset_manifest(ingested.json()["dataset_id"])
    assert manifest["positive_label"] == "1" and manifest["n_rows"] == len(frame) - 1
    evaluated = cli(*a, "evaluate", "--data", path, "--format", "json")
    assert evaluated.code == 0 and evaluated.json()["n_rows"] == len(frame) - 1
    drift = cli(*a, "drift-check", "--current", path, "--format", "json")
    assert drift.code in (0, 1) and drift.json()["performance"]["n_labelled"] == len(frame) - 1


def test_values_too_large_to_model_are_rejected_at_ingest(cli, tmp_path, frame):
    huge = frame.copy()
    huge["Balance"] = huge["Balance"].astype(float)
    huge.loc[:4, "Balance"] = 1e308
    huge.loc[5:6, "Balance"] = -1e200
    path = tmp_path / "huge.csv"
    huge.to_csv(path, index=False)
    root = tmp_path / "a"
    run = cli("--artifacts", root, "ingest", path, "--target", "Exited")
    assert run.code == 3 and "'Balance' has 7 value(s) too large to model" in run.stderr and "rescale" in run.stderr
    assert not (root / "datasets").exists()


def test_infinite_numbers_are_missing_values_in_every_command(cli, artifacts, frame, tmp_path):
    infinite = frame.copy()
    infinite["Tenure"] = infinite["Tenure"].astype(object)
    infinite.loc[:9, "Tenure"] = "inf"
    infinite.loc[10, "Tenure"] = "-Infinity"
    path = tmp_path / "inf.csv"
    infinite.to_csv(path, index=False)
    a = ["--artifacts", artifacts]
    ingest = cli(*a, "ingest", path, "--target", "Exited")
    assert ingest.code == 0 and "'Tenure'" in ingest.stderr and "read as missing" in ingest.stderr
    for args in (["predict", "--input", path], ["drift-check", "--current", path], ["evaluate", "--data", path]):
        run = cli(*a, *args)
        assert run.code in (0, 1), (args, run.stderr)
        assert "column 'Tenure': 11 infinite value(s) read as missing" in run.stderr, args
    scored = pd.read_csv(__import__("io").StringIO(cli(*a, "predict", "--input", path).stdout))
    assert scored["churn_probability"].notna().all() and len(scored) == len(frame)


def test_a_numeric_column_with_many_words_is_read_as_categories_with_a_warning(cli, tmp_path, frame):
    words = frame.copy()
    words["Age"] = words["Age"].astype(object)
    words.loc[words.sample(frac=0.2, random_state=1).index, "Age"] = "forty"
    path = tmp_path / "forty.csv"
    words.to_csv(path, index=False)
    run = cli("--artifacts", tmp_path / "a", "ingest", path, "--target", "Exited", "--format", "json")
    assert run.code == 0
    assert "column 'Age' is read as categories: 600 of its 3000 values (20%) are not numbers" in run.stderr


def test_a_labelled_batch_of_one_class_warns_and_compares_the_churn_rate(cli, artifacts, frame, tmp_path):
    stayed = frame[frame["Exited"] == 0]
    path = tmp_path / "stayed.csv"
    stayed.to_csv(path, index=False)
    run = cli("--artifacts", artifacts, "drift-check", "--current", path, "--format", "json")
    doc = run.json()
    assert doc["performance"]["roc_auc"] is None and doc["performance"]["churn_rate"] == 0.0
    assert "hold one class only: ROC-AUC is undefined; churn rate 0.0% against" in run.stderr
    assert any("one class only" in w for w in doc["warnings"])


def test_values_too_large_to_model_are_one_data_error_in_every_command(cli, artifacts, frame, tmp_path):
    """One rule: no command scores or summarises a number of magnitude 1e150 or more (a confident 1.0, or
    all-zero probabilities, used to come out of predict and evaluate)."""
    huge = frame.copy()
    huge["Balance"] = huge["Balance"].astype(float)
    huge.loc[:3, "Balance"] = 1e308
    huge["Age"] = huge["Age"].astype(float)
    huge.loc[5, "Age"] = -1e200
    path = tmp_path / "huge.csv"
    huge.to_csv(path, index=False)
    row = tmp_path / "row.json"
    row.write_text(json.dumps({**EXAMPLE_ROW, "Age": -1e200}))
    a = ["--artifacts", artifacts]
    datasets = Registry(artifacts).dataset_ids()
    for args in (
        ["drift-check", "--current", path],
        ["retrain", "--data", path, "--force"],
        ["predict", "--input", path, "--output", tmp_path / "scored.csv"],
        ["predict", "--json", row],
        ["predict", "--json", row, "--explain"],
        ["evaluate", "--data", path],
    ):
        run = cli(*a, *args)
        assert run.code == 3 and "too large to model" in run.stderr and "Traceback" not in run.stderr, args
        assert "rescale the column" in run.stderr, args
    assert Registry(artifacts).dataset_ids() == datasets  # retrain stored nothing
    assert not (tmp_path / "scored.csv").exists()


def test_positive_label_given_as_a_decimal(cli, tmp_path, frame):
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    run = cli("--artifacts", tmp_path / "a", "ingest", path, "--target", "Exited", "--positive", "1.0")
    assert run.code == 0, run.stderr
    (dataset,) = Registry(tmp_path / "a").dataset_ids()
    assert Registry(tmp_path / "a").dataset_manifest(dataset)["positive_label"] == "1"


def test_json_numbers_beyond_any_float_are_data_errors(cli, artifacts, tmp_path):
    from tests.conftest import EXAMPLE_ROW

    row = tmp_path / "row.json"
    row.write_text(__import__("json").dumps({**EXAMPLE_ROW, "Age": 0}).replace('"Age": 0', '"Age": 1e400'))
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 3 and "'Age' expects numbers" in run.stderr
    row.write_text(__import__("json").dumps({**EXAMPLE_ROW, "Age": 0}).replace('"Age": 0', '"Age": "-Infinity"'))
    spelled = cli("--artifacts", artifacts, "predict", "--json", row)
    assert spelled.code == 0 and "infinite value(s) read as missing" in spelled.stderr


def test_effect_sizes_in_standard_deviations_may_exceed_one(cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[drift]\nnumeric_effect = 1.5\nprediction_effect = 2\n")
    (tmp_path / "a").mkdir()
    run = cli("--config", config, "--artifacts", tmp_path / "a", "models", "list")
    assert run.code == 0, run.stderr


def test_a_label_of_thousands_of_digits_is_text_not_a_crash():
    from churnctl.contract.schema import canonical_label

    huge = "9" * 5000
    assert canonical_label(huge + ".0") == huge  # Python's int() refuses more than 4,300 digits
    assert [canonical_label(t) for t in ("1.0", "007.00", "-0.0", "+5.0", "-12.0", "1.5", "abc")] == [
        "1", "7", "0", "5", "-12", "1.5", "abc"
    ]  # fmt: skip


def test_a_stray_temporary_output_with_an_impossible_pid_is_cleared(cli, artifacts, tmp_path, sim_csv):
    out = tmp_path / "out.csv"
    stray = tmp_path / ".out.csv.99999999999999999999999.abc.tmp"
    stray.write_text("left by nobody")
    run = cli("--artifacts", artifacts, "predict", "--input", sim_csv, "--output", out)
    assert run.code == 0, run.stderr
    assert out.exists() and not stray.exists()
