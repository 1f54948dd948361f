"""Calibration of churn probabilities: the mapping equals scikit-learn's fitted calibrators, the
cross-validated choice fixes miscalibrated scores and leaves calibrated ones alone."""

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from churnctl.model.calibration import choose_calibration, fit_calibration
from churnctl.model.metrics import reliability
from churnctl.model.predictions import calibrate, logit


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(11)
    true = rng.beta(1.2, 4, 20_000)
    y = (rng.random(len(true)) < true).astype(int)
    return true, y


def test_the_mappings_are_scikit_learns(sample):
    true, y = sample
    squashed = true**2  # too low everywhere
    iso = fit_calibration("isotonic", y, squashed)
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(squashed, y)
    probe = np.r_[np.linspace(0, 1, 201), -0.5, 1.5]
    assert calibrate(probe, iso) == pytest.approx(reference.predict(np.clip(probe, 0, 1)), abs=1e-12)
    sig = fit_calibration("sigmoid", y, squashed)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logit(squashed).reshape(-1, 1), y)
    assert calibrate(squashed, sig) == pytest.approx(platt.predict_proba(logit(squashed).reshape(-1, 1))[:, 1])
    assert calibrate(squashed, {"method": "none"}) is not None and np.array_equal(calibrate(squashed, None), squashed)


def test_miscalibrated_scores_are_fixed_and_calibrated_ones_left_alone(sample):
    true, y = sample
    squashed = true**2
    mapping, brier = choose_calibration(y, squashed, seed=1)
    assert mapping["method"] in ("sigmoid", "isotonic") and brier[mapping["method"]] < brier["none"]
    fixed = calibrate(squashed, mapping)
    assert reliability(y, fixed)[0] < 0.02 < reliability(y, squashed)[0]
    assert np.all(np.diff(fixed[np.argsort(squashed)]) >= -1e-12)  # monotone: nobody is reordered
    kept, _ = choose_calibration(y, true, seed=1)
    assert kept == {"method": "none"}  # already calibrated: left as it is


def test_a_trained_version_records_its_calibration(cli, artifacts):
    from churnctl.registry import Registry

    manifest = Registry(artifacts).model_manifest("v0001")
    assert manifest["calibration"]["method"] in ("none", "sigmoid", "isotonic")
    assert set(manifest["calibration_brier"]) == {"none", "sigmoid", "isotonic"}
    assert manifest["test_metrics"]["ece"] < 0.05
