"""Acceptance on the real public bank-churn data (read from ../shared, never copied).

Every test uses the `bank_model` fixture: the data ingested with a split seed and trained with the
default model search once per session. `make test` trains split seed 1 only; the three-seed mean
ROC-AUC that the README reports is marked `slow` (`make test-slow`).
"""

import json

import numpy as np
import pandas as pd
import pytest

from churnctl.registry import Registry
from tests.conftest import EXAMPLE_ROW


# The test ROC-AUC moves by about 0.015 between split seeds (0.859, 0.871, 0.874 for seeds 1-3 in the
# README), so one split is held to 0.85 and the mean of three to 0.8675 (the README's 0.8678; the
# issue's target is 0.868).
@pytest.mark.parametrize(
    "seeds, least_mean",
    [
        pytest.param((1,), 0.85, id="seed-1"),
        pytest.param((1, 2, 3), 0.8675, id="seeds-1-2-3", marks=pytest.mark.slow),
    ],
)
def test_mean_test_auc_over_split_seeds(cli, bank_model, tmp_path, seeds, least_mean):
    aucs, eces = [], []
    for seed in seeds:
        model = bank_model(seed)
        excluded = {e["name"]: e["role"] for e in model.ingested["excluded"]}
        assert excluded == {"RowNumber": "identifier", "CustomerId": "identifier", "Surname": "ignored"}
        assert model.ingested["churn_rate"] == pytest.approx(0.2037)
        assert model.trained["cv_roc_auc"] > 0.85
        a = ["--artifacts", model.copy(tmp_path / f"s{seed}")]
        evaluated = cli(*a, "evaluate", "--format", "json").json()
        assert evaluated["roc_auc"] == model.trained["test_metrics"]["roc_auc"]
        aucs.append(evaluated["roc_auc"])
        eces.append(evaluated["ece"])
        manifest = Registry(model.artifacts).model_manifest(model.trained["version"])
        brier = manifest["calibration_brier"]  # cross-validated on out-of-fold scores
        assert brier[manifest["calibration"]["method"]] <= brier["none"]  # never worse than uncalibrated
    assert np.mean(aucs) >= least_mean, aucs
    assert np.mean(eces) <= 0.02, eces  # the calibration target (0.013, 0.021, 0.017 for seeds 1-3)


def test_example_row_from_the_original_project(cli, bank_model, tmp_path):
    a = ["--artifacts", bank_model(1).copy(tmp_path / "art")]
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    run = cli(*a, "predict", "--json", row)
    assert run.code == 0, run.stderr
    prediction = run.json()
    assert set(prediction) == {"churn_probability", "churn_label", "risk_level", "confidence", "model_version"}
    # A 35-year-old active customer with two products is a low churn risk in this data.
    assert prediction["churn_probability"] < 0.2 and prediction["risk_level"] == "low"


def test_drift_check_on_the_real_data(cli, bank_model, tmp_path):
    """No drift on the model's own held-out rows; drift naming the feature when Age or Geography move."""
    model = bank_model(1)
    a = ["--artifacts", model.copy(tmp_path / "art")]
    test = pd.read_parquet(tmp_path / "art" / "datasets" / model.ingested["dataset_id"] / "test.parquet")
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
