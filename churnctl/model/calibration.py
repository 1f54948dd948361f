"""Calibrating a model's churn probabilities on its out-of-fold predictions.

Three candidates — none, sigmoid (Platt scaling of the logit) and isotonic regression — are compared
by stratified cross-validation of the Brier score on the out-of-fold predictions of the chosen model
(never on the test split); the best is fitted on all of them. A mapping is stored in the signed
manifest as plain numbers and applied by :func:`churnctl.model.predictions.calibrate` on every scoring path
(scikit-learn and compiled alike). Calibration is monotone, so it does not reorder customers (isotonic
regression can tie some).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

from churnctl.model.predictions import calibrate, logit

METHODS = ("none", "sigmoid", "isotonic")
FOLDS = 5
# A cross-validated Brier improvement below this share is noise, and no reason to change the
# probabilities (a mapping fitted on training data can only extrapolate worse under drift).
MIN_RELATIVE_GAIN = 0.005


def fit_calibration(method: str, y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """The mapping of ``method`` fitted on labels ``y`` and probabilities ``proba``."""
    if method == "sigmoid":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(logit(proba).reshape(-1, 1), y)
        return {"method": "sigmoid", "a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}
    if method == "isotonic":
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba, y)
        return {"method": "isotonic", "x": model.X_thresholds_.tolist(), "y": model.y_thresholds_.tolist()}
    return {"method": "none"}


def choose_calibration(y: np.ndarray, proba: np.ndarray, seed: int) -> tuple[dict[str, Any], dict[str, float]]:
    """(the chosen mapping fitted on all rows, cross-validated Brier score of each method)."""
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    folds = min(FOLDS, int(min(y.sum(), len(y) - y.sum())))
    if folds < 2:
        return {"method": "none"}, {}
    scores: dict[str, list[float]] = {m: [] for m in METHODS}
    for train, valid in StratifiedKFold(folds, shuffle=True, random_state=seed).split(proba, y):
        for method in METHODS:
            mapping = fit_calibration(method, y[train], proba[train])
            scores[method].append(float(brier_score_loss(y[valid], calibrate(proba[valid], mapping))))
    brier = {m: float(np.mean(v)) for m, v in scores.items()}
    best = min(METHODS, key=lambda m: brier[m])
    if brier["none"] - brier[best] < MIN_RELATIVE_GAIN * brier["none"]:
        best = "none"
    return fit_calibration(best, y, proba), brier
