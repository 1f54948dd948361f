"""Performance estimated without labels (CBPE), against hand computations, against realised ROC-AUCs
by simulation, and its limit (a changed churn mechanism with unchanged inputs).

A gradient-boosting model trained on 10,000 simulated customers; batches of 5,000 rows, each with
its own seed. `make test` runs 8 batches per case, `make test-slow` 100."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churnctl.drift.performance import estimate_performance, expected_roc_auc
from churnctl.synthetic import Drift, simulate_customers
from tests.conftest import simulated_monitors

# (batches, least of them that must pass): a 95 % band covers the truth in at least 7 of 8 batches
# with probability 0.94 and in at least 90 of 100 with probability 0.99.
BATCHES = [pytest.param(8, 7, id="8-batches"), pytest.param(100, 90, id="100-batches", marks=pytest.mark.slow)]


def test_expected_roc_auc_hand_computed_and_by_simulation():
    # p = (0.9, 0.1): expected TPR (0, .9, 1) against FPR (0, .1, 1): area .045 + .855 = 0.9
    assert expected_roc_auc(np.array([0.9, 0.1])) == pytest.approx(0.9)
    assert expected_roc_auc(np.array([0.5, 0.5, 0.5])) == pytest.approx(0.5)  # ties: the diagonal
    assert expected_roc_auc(np.array([0.0, 0.0])) is None  # no expected churner
    rng = np.random.default_rng(1)
    p = rng.beta(1, 3, 20_000)
    realised = [roc_auc_score((rng.random(len(p)) < p).astype(int), p) for _ in range(40)]
    assert expected_roc_auc(p) == pytest.approx(np.mean(realised), abs=0.002)
    better = np.clip(p * 1.8 - 0.4, 0.001, 0.999)  # sharper scores: a reference about 0.1 higher
    reference = np.unique(better, return_counts=True)
    estimate = estimate_performance(p, 0.3, reference, 0.03, enough=True)
    assert estimate.roc_auc_lower < np.mean(realised) < estimate.roc_auc_upper
    assert estimate.reference_roc_auc == pytest.approx(expected_roc_auc(better))
    assert estimate.reference_roc_auc > estimate.roc_auc + 0.05
    assert estimate.drop_detected
    assert not estimate_performance(p, 0.3, np.unique(p, return_counts=True), 0.03, enough=True).drop_detected
    y = (rng.random(len(p)) < p).astype(int)
    above = p >= 0.3
    assert estimate.precision == pytest.approx(y[above].mean(), abs=0.02)
    assert estimate.recall == pytest.approx(y[above].sum() / y.sum(), abs=0.02)


@pytest.fixture(scope="module")
def run_batch(bank_hgb_monitors):
    monitors = bank_hgb_monitors

    def check(drift: Drift, seed: int):
        frame = simulate_customers(5_000, seed=seed, drift=drift)
        monitor = monitors()
        monitor.update(frame)
        return monitor.report()

    return check


SHIFTS = {
    "no drift": Drift(),
    "Age +5 years": Drift(shift={"Age": 5}),
    "Germany share 45 %": Drift(mix={"Geography": {"Germany": 0.45}}),
    "Balance +1 SD": Drift(shift_sd={"Balance": 1.0}),
}
FAST_SHIFTS = ("no drift", "Age +5 years")  # make test; make test-slow runs every case
CASES = [pytest.param(c, marks=() if c in FAST_SHIFTS else pytest.mark.slow) for c in sorted(SHIFTS)]


@pytest.mark.parametrize("batches, least", BATCHES)
@pytest.mark.parametrize("case", CASES)
def test_the_estimate_follows_the_realised_roc_auc_under_covariate_shift(run_batch, case, batches, least):
    errors, covered, alarms = [], 0, 0
    for i in range(batches):
        report = run_batch(SHIFTS[case], 60_000 + i)
        estimate, realised = report.estimated_performance, report.performance.roc_auc
        errors.append(estimate.roc_auc - realised)
        covered += estimate.roc_auc_lower <= realised <= estimate.roc_auc_upper
        alarms += estimate.drop_detected
    assert np.mean(np.abs(errors)) <= 0.015, f"{case}: mean absolute error {np.mean(np.abs(errors)):.4f}"
    assert covered >= least, f"{case}: realised ROC-AUC inside the band in {covered} of {batches}"
    if case == "no drift":  # the shifts cost some accuracy (Age +5: about 0.02): an alarm there is no error
        assert alarms <= 0.05 * batches, f"{alarms} false alarms in {batches} batches"


@pytest.mark.parametrize("batches, least", BATCHES)
def test_a_drop_caused_by_covariate_shift_is_detected_without_labels(run_batch, batches, least):
    detected, drops = 0, []
    for i in range(batches):
        report = run_batch(Drift(shift={"Age": 15}), 70_000 + i)
        estimate = report.estimated_performance
        drops.append(report.performance.roc_auc_reference - report.performance.roc_auc)
        detected += estimate.drop_detected and report.drift_detected
        assert not estimate.drop_detected or any("CBPE" in r for r in report.reasons)
    assert np.mean(drops) >= 0.035  # older customers: the realised ROC-AUC falls by about 0.04
    assert detected >= least, f"detected in {detected} of {batches}"


@pytest.fixture(scope="module")
def usage_batch(tmp_path_factory):
    monitors = simulated_monitors(tmp_path_factory.mktemp("cbpe-usage"), "hgb", profile="usage")

    def check(drift: Drift, seed: int):
        monitor = monitors()
        monitor.update(simulate_customers(5_000, seed=seed, drift=drift, profile_name="usage"))
        return monitor.report()

    return check


@pytest.mark.parametrize("batches, least", BATCHES)
def test_a_drop_of_005_caused_by_covariate_shift_is_detected_without_labels(usage_batch, batches, least):
    """Telecom usage records with three more calls to customer service each: customers pile up where the
    mechanism's complaint effect saturates, and the realised ROC-AUC falls by about 0.09."""
    detected, drops = 0, []
    for i in range(batches):
        report = usage_batch(Drift(shift={"Customer service calls": 3}), 90_000 + i)
        drops.append(report.performance.roc_auc_reference - report.performance.roc_auc)
        detected += report.estimated_performance.drop_detected and report.drift_detected
    assert np.mean(drops) >= 0.05
    assert detected >= least, f"detected in {detected} of {batches}"


def test_a_changed_churn_mechanism_is_invisible_to_the_estimate_and_seen_by_labels(run_batch):
    for i in range(3):
        report = run_batch(Drift(concept=1.0), 80_000 + i)
        estimate = report.estimated_performance
        assert report.performance.roc_auc < report.performance.roc_auc_reference - 0.2  # the model is now wrong
        assert abs(estimate.roc_auc - estimate.reference_roc_auc) < 0.03 and not estimate.drop_detected
        assert report.performance.drift and report.drift_detected  # the labels show it
