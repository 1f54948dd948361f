"""The decision threshold: where a churn probability becomes a "churns" label (and where risk levels
start), chosen on out-of-fold predictions, never on the test split."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from churnctl.errors import UsageError


def choose_threshold(y: np.ndarray, proba: np.ndarray, strategy: str | float) -> float:
    """Decision threshold: a fixed probability, best F1 ("f1") or Youden's J ("youden")."""
    if isinstance(strategy, (int, float)) or _is_number(strategy):
        value = float(strategy)
        if not 0.0 < value < 1.0:
            raise UsageError(f"threshold must be a probability in (0, 1), found {value}")
        return value
    if strategy == "f1":
        precision, recall, thresholds = precision_recall_curve(y, proba)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        return float(thresholds[int(np.argmax(f1[:-1]))])
    if strategy == "youden":
        fpr, tpr, thresholds = roc_curve(y, proba)
        return float(min(thresholds[int(np.argmax(tpr - fpr))], 1.0))
    raise UsageError(f"unknown threshold strategy {strategy!r}", hint="use 'f1', 'youden' or a probability such as 0.5")


def _is_number(text: object) -> bool:
    try:
        float(text)  # type: ignore[arg-type]  # anything float() rejects is "not a number"
        return True
    except (TypeError, ValueError):
        return False
