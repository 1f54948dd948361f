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
