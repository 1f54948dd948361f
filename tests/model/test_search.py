"""Model search cost control: selection on a sample of large data, early stopping, the time budget,
and the cheaper candidate winning a tie."""

import numpy as np
import pytest

from churnctl.contract.frames import prepare_features
from churnctl.contract.inference import infer_schema
from churnctl.model.estimators import CANDIDATES, scoring_cost
from churnctl.model.search import TIE_MARGIN, select_and_fit
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
    assert families == ["logreg", "hgb", "blend"]  # the first of each family, one fold each; their blend
    assert all(len(c.fold_auc) == 1 for c in selection.candidates)
    assert len([s for s in selection.skipped if "folds_done" not in s]) == len(CANDIDATES) - 2
    assert [s["folds_done"] for s in selection.skipped if "folds_done" in s] == [1, 1]
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
    assert len([s for s in manifest["skipped_candidates"] if "folds_done" not in s]) == len(CANDIDATES) - 2


def test_long_work_reports_progress_to_the_caller(data, artifacts, sim_csv, tmp_path):
    from churnctl.config import Settings
    from churnctl.lifecycle.drift_check import drift_check
    from churnctl.lifecycle.predict_batch import predict_file
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


@pytest.fixture
def fake_fits(monkeypatch):
    """A clock that only fits move: a fold or final fit takes fit_cost x rows / 1000 x (1 s for
    logreg, 0.01 s for hgb; a blend the sum of its members), so the budget's decisions are exact and
    repeatable."""
    import churnctl.model.estimators as estimators
    import churnctl.model.search as search

    clock = [0.0]
    real = estimators.build_pipeline

    def seconds(family, params):
        if family == "blend":
            return sum(seconds(f, p) for f, p in estimators.members(params))
        return estimators.fit_cost(family, params) * (1.0 if family == "logreg" else 0.01)

    class Timed:
        def __init__(self, schema, family, params, seed, early_stopping=False):
            self.pipeline = real(schema, family, params, seed, early_stopping)
            self.seconds = seconds(family, params)

        def fit(self, X, y):
            clock[0] += self.seconds * len(X) / 1000
            self.pipeline.fit(X, y)
            return self

        def predict_proba(self, X):
            return self.pipeline.predict_proba(X)

        def __getattr__(self, name):  # named_steps, estimators_ ...
            return getattr(self.pipeline, name)

    monkeypatch.setattr(estimators, "build_pipeline", Timed)
    monkeypatch.setattr(search.time, "monotonic", lambda: clock[0])
    return clock


@pytest.mark.parametrize("budget", [60.0, 100.0, 120.0, 150.0, 200.0])
def test_the_budget_bounds_the_search_and_the_final_fit(data, fake_fits, budget):
    schema, X, y = data
    selection = select_and_fit(schema, X, y, model="auto", seed=1, folds=3, time_budget=budget)
    assert fake_fits[0] <= budget  # the final fit included
    folds = [len(c.fold_auc) for c in selection.candidates]
    assert selection.skipped and (len(folds) < len(CANDIDATES) or min(folds) < 3)
    done = len(selection.chosen.fold_auc)  # the threshold's rows: the chosen candidate's completed folds
    assert abs(len(selection.oof_y) - len(y) * done / 3) <= done


def test_a_generous_budget_runs_every_fold_of_every_candidate(data, fake_fits):
    schema, X, y = data
    selection = select_and_fit(schema, X, y, model="auto", seed=1, folds=3, time_budget=10_000.0)
    assert [len(c.fold_auc) for c in selection.candidates] == [3] * (len(CANDIDATES) + 1) and not selection.skipped
    assert selection.candidates[-1].family == "blend"


def test_a_candidate_cut_short_is_compared_on_the_folds_all_completed(data, fake_fits):
    schema, X, y = data
    # logreg runs its 3 folds (8 s), the first hgb candidate 2 of 3 (41 s each) before the budget would
    # not hold a third and its final fit (62 s); one spline logreg (8 s a fold) still fits, nothing more
    selection = select_and_fit(schema, X, y, model="auto", seed=1, folds=3, time_budget=185.0)
    logreg, hgb, spline, blend = selection.candidates
    assert [len(c.fold_auc) for c in selection.candidates] == [3, 2, 3, 2]
    assert "spline_knots" in spline.params
    assert {"estimator": "hgb", "params": hgb.params, "folds_done": 2} in selection.skipped
    assert blend.params["members"][1] == {"estimator": "hgb", "params": hgb.params}
    # the blend's final fit (both members, 74 s) cannot end in time; the others compete on 2 folds
    shared = {id(c): np.mean(c.fold_auc[:2]) for c in (logreg, hgb, spline)}
    assert np.mean(hgb.fold_auc[:2]) > np.mean(logreg.fold_auc[:2]) + TIE_MARGIN
    assert selection.chosen is not blend and fake_fits[0] <= 185.0
    assert shared[id(selection.chosen)] >= max(shared.values()) - TIE_MARGIN


def test_a_final_fit_that_cannot_end_in_time_is_not_chosen(data, fake_fits):
    schema, X, y = data
    # logreg (3 folds of 2.7 s) and one hgb fold (41 s) run; an hgb final fit would take 62 s more
    selection = select_and_fit(schema, X, y, model="auto", seed=1, folds=3, time_budget=60.0)
    assert [len(c.fold_auc) for c in selection.candidates] == [3, 1, 1]  # logreg, hgb, their blend
    assert selection.chosen.family == "logreg" and fake_fits[0] <= 60.0


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


def test_the_time_budget_flag_overrides_the_setting(cli, tmp_path, sim_csv):
    a = ["--artifacts", tmp_path / "a"]
    assert cli(*a, "ingest", sim_csv, "--target", "Exited").code == 0
    run = cli(*a, "train", "--time-budget", "0.001", "--format", "json")
    assert run.code == 0
    from churnctl.registry import Registry

    manifest = Registry(tmp_path / "a").model_manifest("v0001")
    assert any(s for s in manifest["skipped_candidates"] if "folds_done" not in s)  # the budget cut the search
    assert cli(*a, "train", "--time-budget", "-5").code == 2


def test_a_linear_final_fit_uses_a_stratified_sample_of_large_training_sets(monkeypatch):
    import pandas as pd

    from churnctl.model import search

    monkeypatch.setattr(search, "LINEAR_FIT_ROWS", 1000)
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=5000)})
    y = (rng.random(5000) < 0.2).astype(int)
    for family in ("logreg", "blend"):
        X_fit, y_fit = search._final_rows(X, y, family, seed=1)
        assert len(y_fit) == 1000 and abs(y_fit.mean() - y.mean()) < 0.002  # stratified
        assert list(X_fit.index) == sorted(X_fit.index)
        assert np.array_equal(search._final_rows(X, y, family, seed=1)[1], y_fit)  # seeded
    assert len(search._final_rows(X, y, "hgb", seed=1)[1]) == 5000  # trees take every row
