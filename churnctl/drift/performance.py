"""Model performance on current data: realised, when labels came with the batch, and estimated
without labels by confidence-based performance estimation (CBPE).

CBPE takes the model's churn probabilities at their word: a row scored p is a churner with
probability p. The expected confusion matrix at the decision threshold t is then
TP = Σ_{p≥t} p, FP = Σ_{p≥t} (1 − p), FN = Σ_{p<t} p, and the expected ROC curve has, at each score
s, TPR = Σ_{p≥s} p / Σ p and FPR = Σ_{p≥s} (1 − p) / Σ (1 − p); the estimated ROC-AUC is the area
under it. The estimate is as good as the calibration: it follows changes of the inputs (covariate
shift), but a changed churn mechanism with unchanged inputs (concept drift) leaves the scores, and so
the estimate, unchanged: only labels show that. The band is the sampling error of an AUC on that many
expected churners and non-churners (Hanley–McNeil).

The reference is the same estimate on the model's held-out test scores, so that the comparison is
like for like (a calibration bias of the model shifts both) and its own sampling error counts in the
test of a drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from churnctl.drift import stats
from churnctl.drift.result import PerformanceDrift
from churnctl.model.metrics import classification_metrics

BAND = 0.95


@dataclass
class EstimatedPerformance:
    """ROC-AUC, precision, recall and F1 estimated from the scores alone (CBPE)."""

    method: str
    n_scored: int
    roc_auc: float | None
    roc_auc_lower: float | None
    roc_auc_upper: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    churn_rate: float | None  # expected: the mean probability
    reference_roc_auc: float | None
    margin: float
    drop_detected: bool


def expected_roc_auc(proba: np.ndarray, counts: np.ndarray | None = None) -> float | None:
    """Area under the expected ROC curve of scores ``proba`` taken as churn probabilities (each
    ``counts`` times, default once); None when they hold no expected churner or non-churner."""
    proba = np.asarray(proba, dtype=float)
    weight = np.ones(len(proba)) if counts is None else np.asarray(counts, dtype=float)
    positives, negatives = (weight * proba).sum(), (weight * (1.0 - proba)).sum()
    if len(proba) == 0 or positives <= 0 or negatives <= 0:
        return None
    values, index = np.unique(-proba, return_inverse=True)  # descending scores, ties grouped
    tp = np.cumsum(np.bincount(index, weights=weight * proba, minlength=len(values))) / positives
    fp = np.cumsum(np.bincount(index, weights=weight * (1.0 - proba), minlength=len(values))) / negatives
    return float(np.trapezoid(np.r_[0.0, tp], np.r_[0.0, fp]))


def _auc_se(auc: float, proba: np.ndarray, counts: np.ndarray | None = None) -> float:
    weight = np.ones(len(proba)) if counts is None else np.asarray(counts, dtype=float)
    return stats.auc_standard_error(auc, float((weight * proba).sum()), float((weight * (1.0 - proba)).sum()))


def estimate_performance(
    proba: np.ndarray,
    threshold: float,
    reference: tuple[np.ndarray, np.ndarray],
    margin: float,
    enough: bool,
) -> EstimatedPerformance:
    """CBPE of scored rows against ``reference`` (the held-out test scores, as distinct values and
    their counts); ``drop_detected`` when the estimate is more than ``margin`` below the reference's
    and the difference is significant (one-sided, 97.5 %, both sampling errors), with ``enough`` rows."""
    points, counts = reference
    reference_roc_auc = expected_roc_auc(points, counts)
    proba = np.asarray(proba, dtype=float)
    auc = expected_roc_auc(proba)
    above = proba >= threshold
    tp, fp, fn = proba[above].sum(), (1.0 - proba[above]).sum(), proba[~above].sum()
    precision = float(tp / (tp + fp)) if tp + fp > 0 else None
    recall = float(tp / (tp + fn)) if tp + fn > 0 else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    lower = upper = None
    drop = False
    if auc is not None:
        z = norm.ppf(0.5 + BAND / 2)
        se = _auc_se(auc, proba)
        lower, upper = max(auc - z * se, 0.0), min(auc + z * se, 1.0)
        if enough and reference_roc_auc is not None:
            both = float(np.hypot(se, _auc_se(reference_roc_auc, points, counts)))
            drop = reference_roc_auc - auc > margin and reference_roc_auc - auc > z * both
    return EstimatedPerformance(
        method="cbpe",
        n_scored=len(proba),
        roc_auc=auc,
        roc_auc_lower=lower,
        roc_auc_upper=upper,
        precision=precision,
        recall=recall,
        f1=f1,
        churn_rate=float(proba.mean()) if len(proba) else None,
        reference_roc_auc=reference_roc_auc,
        margin=margin,
        drop_detected=drop,
    )


def realised_performance(
    y: np.ndarray, proba: np.ndarray, threshold: float, reference: dict[str, Any]
) -> PerformanceDrift | None:
    """Metrics of labelled rows against the model's test metrics ``reference``, with the one-sided
    test of a ROC-AUC drop (Hanley–McNeil standard errors)."""
    if len(y) == 0:
        return None
    current = classification_metrics(y, proba, threshold)
    (_, _), (fn, tp) = reference["confusion_matrix"]
    ref_pos = fn + tp
    ref_neg = reference["n_rows"] - ref_pos
    drop = p_value = None
    if current["roc_auc"] is not None and reference["roc_auc"] is not None:
        n_pos = int(y.sum())
        drop = reference["roc_auc"] - current["roc_auc"]
        p_value = stats.auc_drop_pvalue(
            (reference["roc_auc"], ref_pos, ref_neg), (current["roc_auc"], n_pos, len(y) - n_pos)
        )
    return PerformanceDrift(
        n_labelled=len(y),
        roc_auc=current["roc_auc"],
        roc_auc_reference=reference["roc_auc"],
        pr_auc=current["pr_auc"],
        pr_auc_reference=reference["pr_auc"],
        churn_rate=current["churn_rate"],
        churn_rate_reference=reference["churn_rate"],
        f1=current["f1"],
        f1_reference=reference["f1"],
        roc_auc_drop=drop,
        p_value=p_value,
    )
