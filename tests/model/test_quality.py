"""What the candidates of the model search are for: splines follow curved effects, the blend is scored
from its members' out-of-fold predictions and predicts their mean, and (slow) the default search beats
plain library defaults on files of several shapes and reaches the bank target."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churnctl.contract.frames import prepare_features
from churnctl.contract.inference import infer_schema
from churnctl.model.search import CandidateScore, _blend, _pick, select_and_fit
from tests.conftest import EXAMPLE_ROW


def prepared(frame: pd.DataFrame, target: str):
    inferred = infer_schema(frame, target, None)
    X, _ = prepare_features(inferred.frame, inferred.schema)
    return inferred.schema, X, inferred.frame[inferred.schema.target].to_numpy().astype(int)


def test_splines_follow_a_u_shaped_effect():
    """Churn high at both ends of age: a straight line cannot rank it, the spline basis can."""
    rng = np.random.default_rng(0)
    age = rng.uniform(18, 80, 3000)
    churn = rng.random(3000) < 1 / (1 + np.exp(-(0.004 * (age - 49) ** 2 - 1.2)))
    schema, X, y = prepared(pd.DataFrame({"age": age, "plan": rng.choice(["a", "b"], 3000), "y": churn}), "y")
    selection = select_and_fit(schema, X, y, model="logreg", seed=1, folds=3)
    plain = next(c for c in selection.candidates if "spline_knots" not in c.params)
    assert plain.mean_auc < 0.6 < 0.7 < selection.chosen.mean_auc
    assert "spline_knots" in selection.chosen.params


@pytest.mark.parametrize("numbers, runs", [(0, False), (3, True), (100, True), (101, False)])
def test_spline_candidates_run_on_files_with_a_few_dozen_numbers(numbers, runs):
    from churnctl.model.estimators import CANDIDATES, runs_on

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=50) for i in range(numbers)})
    frame["plan"], frame["y"] = rng.choice(["a", "b"], 50), rng.integers(0, 2, 50)
    schema = infer_schema(frame, "y", None).schema
    assert len(schema.numeric_names) == numbers
    splines = [p for f, p in CANDIDATES if "spline_knots" in p]
    assert splines and all(runs_on(schema, p) == runs for p in splines)
    assert all(runs_on(schema, p) for f, p in CANDIDATES if "spline_knots" not in p)


def test_the_blend_is_scored_on_the_mean_of_its_members_out_of_fold_predictions():
    rng = np.random.default_rng(3)
    y = (rng.random(900) < 0.3).astype(int)
    oof = {name: np.clip(y * 0.3 + rng.random(900), 0, 1) for name in ("a", "b", "c")}
    everywhere = np.ones(900, dtype=bool)
    scored = [
        (CandidateScore("logreg", {"C": 1.0}, [0.70, 0.71, 0.69], 1.0), oof["a"], everywhere),
        (CandidateScore("logreg", {"C": 0.1}, [0.60, 0.61, 0.59], 1.0), oof["b"], everywhere),
        (CandidateScore("hgb", {"max_iter": 9}, [0.75, 0.70, 0.70], 2.0), oof["c"], everywhere),
    ]
    splits = list(StratifiedKFold(3, shuffle=True, random_state=5).split(np.zeros(900), y))
    blend, blended, scored_rows = _blend(scored, y, splits, shared=2)
    assert blend.family == "blend" and blend.params["members"] == [
        {"estimator": "logreg", "params": {"C": 1.0}},  # the best of each family on the shared folds
        {"estimator": "hgb", "params": {"max_iter": 9}},
    ]
    np.testing.assert_array_equal(blended, (oof["a"] + oof["c"]) / 2)
    assert scored_rows.all()
    assert blend.fold_auc == [roc_auc_score(y[v], (oof["a"][v] + oof["c"][v]) / 2) for _, v in splits[:2]]
    assert _blend(scored[:2], y, splits, shared=2) is None  # one family: nothing to blend


@pytest.mark.parametrize(
    "aucs, costs, chosen",
    [
        ({0: 0.800, 1: 0.810, 2: 0.809}, [0.0, 1500.0, 1000.0], 1),  # a near tie, not half the cost: the best
        ({0: 0.800, 1: 0.810, 2: 0.809}, [0.0, 1500.0, 700.0], 2),  # at most half the cost: the cheaper
        ({0: 0.809, 1: 0.810, 2: 0.809}, [0.0, 1500.0, 700.0], 0),  # the cheapest of those near
        ({0: 0.790, 1: 0.810}, [0.0, 1500.0], 1),  # beyond the margin, cost does not matter
        ({0: 0.800, 1: 0.801}, [0.0, 0.0], 1),  # as cheap is not cheaper: plain vs spline logreg
    ],
)
def test_the_best_wins_unless_a_near_tie_scores_at_half_the_cost(aucs, costs, chosen):
    assert _pick(aucs, costs) == chosen


def test_a_forced_blend_trains_compiles_and_scores_as_the_mean_of_its_members(cli, tmp_path, sim_csv, fast_config):
    a = ["--artifacts", tmp_path / "art", "--config", fast_config]
    assert cli(*a, "ingest", sim_csv, "--target", "Exited").code == 0
    trained = cli(*a, "train", "--model", "blend", "--format", "json")
    assert trained.code == 0, trained.stderr
    doc = trained.json()
    assert doc["estimator"] == "blend" and [m["estimator"] for m in doc["params"]["members"]] == ["logreg", "hgb"]
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    fast = cli("-v", *a, "predict", "--json", row)
    assert fast.code == 0 and "no compiled scorer" not in fast.stderr  # the numpy scorer took it
    rows = tmp_path / "rows.csv"
    pd.DataFrame([EXAMPLE_ROW]).to_csv(rows, index=False)
    out = tmp_path / "scored.csv"
    assert cli(*a, "predict", "--input", rows, "--output", out).code == 0
    batch = pd.read_csv(out)["churn_probability"].iloc[0]
    assert fast.json()["churn_probability"] == pytest.approx(batch, abs=1e-9)
    from churnctl.model.loading import load_model
    from churnctl.registry import Registry

    model = load_model(Registry(tmp_path / "art"))
    frame, _ = prepare_features(pd.DataFrame([EXAMPLE_ROW] * 3), model.schema)
    voting = model.pipeline
    members = np.mean([m.predict_proba(frame)[:, 1] for m in voting.estimators_], axis=0)
    np.testing.assert_allclose(voting.predict_proba(frame)[:, 1], members, rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["telco", "usage"])
def test_the_default_search_beats_plain_defaults_on_other_shapes(profile):
    """Mean test ROC-AUC over split seeds 1-3 above the better of plain gradient boosting and plain
    logistic regression, fitted and scored on the same rows (tests/bench/model_quality.py)."""
    from churnctl.synthetic import PROFILES, simulate_customers
    from tests.bench.model_quality import PROFILES as ROWS
    from tests.bench.model_quality import compare

    frame = simulate_customers(ROWS[profile], seed=11, profile_name=profile)
    result = compare(profile, frame, PROFILES[profile].target)
    assert result.margin > 0, (result.ours, result.plain_hgb, result.plain_logreg)


@pytest.mark.slow
def test_on_the_real_bank_file_churnctl_beats_plain_boosting_and_is_calibrated(bank_csv):
    """Paired on churnctl's own splits (seeds 1-3): its mean test ROC-AUC at least plain gradient
    boosting's, and its mean expected calibration error at most 0.02 on the 2,000 test rows."""
    from tests.bench.model_quality import compare

    result = compare("bank", pd.read_csv(bank_csv), "Exited")
    assert np.mean(result.ours) >= np.mean(result.plain_hgb), (result.ours, result.plain_hgb)
    assert result.test_rows >= 1500 and np.mean(result.ece) <= 0.02, result.ece
