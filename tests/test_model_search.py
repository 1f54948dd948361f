"""Model search cost control: selection on a sample of large data, early stopping, the time budget,
and the cheaper candidate winning a tie."""

import numpy as np
import pytest

from churnctl.estimators import CANDIDATES, TIE_MARGIN, scoring_cost, select_and_fit
from churnctl.features import prepare_features
from churnctl.inference import infer_schema
from churnctl.synthetic import simulate_customers


@pytest.fixture(scope="module")
def data():
    frame = simulate_customers(4000, seed=5)
    inferred = infer_schema(frame, "Exited", None)
    X, _ = prepare_features(inferred.frame, inferred.schema)
    return inferred.schema, X, inferred.frame["Exited"].to_numpy().astype(int)


def test_large_data_is_searched_on_a_stratified_sample_and_fitted_on_all_rows(data):
    schema, X, y = data
    selection = select_and_fit(schema, X, y, model="hgb", seed=1, folds=3, selection_rows=1500)
    assert selection.selection_rows == 1500 and len(selection.oof_y) == 1500
    assert abs(selection.oof_y.mean() - y.mean()) < 0.01  # stratified
    model = selection.pipeline.named_steps["model"]
    assert model.early_stopping and model.n_iter_ == selection.n_iter <= selection.chosen.params["max_iter"]
    assert model.n_features_in_ == X.shape[1]
    again = select_and_fit(schema, X, y, model="hgb", seed=1, folds=3, selection_rows=1500)
    np.testing.assert_array_equal(selection.oof_proba, again.oof_proba)  # the sample is seeded


def test_small_data_uses_every_row_without_early_stopping(data):
    schema, X, y = data
    selection = select_and_fit(schema, X, y, model="logreg", seed=1, folds=3)
    assert selection.selection_rows == len(y) and len(selection.oof_proba) == len(y)


def test_the_time_budget_stops_the_search_but_each_family_is_tried(data):
    schema, X, y = data
    selection = select_and_fit(schema, X, y, model="auto", seed=1, folds=3, time_budget=0.0)
    families = [c.family for c in selection.candidates]
    assert families == ["logreg", "hgb"]  # the first of each family, one fold each
    assert all(len(c.fold_auc) == 1 for c in selection.candidates)
    assert len(selection.skipped) == len(CANDIDATES) - 2
    assert len(selection.oof_proba) == len(selection.oof_y) < len(y)  # only the scored fold


def test_a_tie_goes_to_the_candidate_cheaper_to_score():
    costs = sorted(scoring_cost(f, p) for f, p in CANDIDATES)
    assert costs[0] == 0.0  # logistic regression
    assert scoring_cost("hgb", {"max_iter": 100, "max_leaf_nodes": 31}) < scoring_cost(
        "hgb", {"max_iter": 500, "max_leaf_nodes": 8}
    )
    assert 0 < TIE_MARGIN <= 0.002


def test_train_records_the_search_and_honours_the_budget_for_importance(cli, tmp_path, sim_csv):
    config = tmp_path / "c.toml"
    config.write_text("[train]\ncv_folds = 2\nselection_rows = 1000\ntime_budget = 0.001\n")
    base = ["--artifacts", tmp_path / "a", "--config", config]
    assert cli(*base, "ingest", sim_csv, "--target", "Exited").code == 0
    run = cli(*base, "train", "--format", "json")
    assert run.code == 0, run.stderr
    assert "no permutation importance" in run.stderr
    from churnctl.registry import Registry

    manifest = Registry(tmp_path / "a").model_manifest("v0001")
    assert manifest["selection_rows"] == 1000 and manifest["feature_importance"] == {}
    assert len(manifest["skipped_candidates"]) == len(CANDIDATES) - 2


def test_long_work_reports_progress_to_the_caller(data, artifacts, sim_csv, tmp_path):
    from churnctl.config import Settings
    from churnctl.lifecycle.drift_check import drift_check
    from churnctl.lifecycle.predict import predict_file
    from churnctl.registry import Registry

    schema, X, y = data
    calls = []
    select_and_fit(schema, X, y, model="logreg", seed=1, folds=3, progress=lambda *a: calls.append(a))
    assert calls[0] == ("model selection", 0, calls[0][2]) and calls[-1][1] == calls[-1][2]
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)

    rows = []
    registry = Registry(artifacts)
    predict_file(
        registry,
        Settings(),
        str(sim_csv),
        output=str(tmp_path / "s.csv"),
        batch_rows=1000,
        progress=lambda *a: rows.append(a),
    )
    assert rows == [("scoring rows", 1000, None), ("scoring rows", 2000, None), ("scoring rows", 3000, None)]
    checked = []
    drift_check(registry, Settings(), str(sim_csv), batch_rows=2000, progress=lambda *a: checked.append(a))
    assert checked == [("checking rows", 2000, None), ("checking rows", 3000, None)]


def test_a_rare_class_is_never_sampled_away(data):
    schema, X, y = data
    rare = y.copy()
    rare[:] = 0
    rare[:6] = 1  # 6 churners in 4,000 rows: a 1,500-row sample would keep about 2
    selection = select_and_fit(schema, X, rare, model="logreg", seed=1, folds=3, selection_rows=1500)
    assert selection.selection_rows == len(rare)


def test_candidates_cut_short_by_the_budget_are_not_ranked_against_complete_ones(data, monkeypatch):
    import churnctl.estimators as estimators

    schema, X, y = data
    clock = iter(range(0, 10_000, 1))
    monkeypatch.setattr(estimators.time, "monotonic", lambda: float(next(clock)))
    # each call to the clock advances one second: the budget ends during the second hgb candidate
    selection = select_and_fit(schema, X, y, model="hgb", seed=1, folds=3, time_budget=8.5)
    folds = [len(c.fold_auc) for c in selection.candidates]
    assert max(folds) == 3 and min(folds) < 3
    assert len(selection.chosen.fold_auc) == 3
    assert any(s.get("folds_done") for s in selection.skipped)


def test_scored_rows_reach_stdout_while_progress_bars_draw_on_a_terminal(artifacts, sim_csv):
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import ROOT

    master, slave = pty.openpty()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "churnctl", "--artifacts", str(artifacts), "predict", "--input", str(sim_csv)],
            stdout=subprocess.PIPE,
            stderr=slave,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert run.returncode == 0 and run.stdout.decode().count("\n") == 3001
