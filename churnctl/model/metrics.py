"""Evaluation metrics for a churn score: ranking, calibration, and the decision at a threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


@dataclass(frozen=True)
class Metric:
    """How a metric is named and read: its key in every JSON output, a label for people, one line on
    what it says, how its value is written (``score``, ``share``, ``lift``, ``count``) and whether
    higher is better."""

    key: str
    label: str
    meaning: str
    kind: str = "score"
    higher_is_better: bool = True

    def text(self, value: float | int | None) -> str:
        """The value as people read it: '0.8790', '65.5%', '3.70×', '1,000'; '–' when not defined."""
        if value is None:
            return "–"
        return {"share": f"{value:.1%}", "lift": f"{value:.2f}×", "count": f"{value:,}"}.get(self.kind, f"{value:.4f}")


METRICS = (
    Metric("roc_auc", "ROC-AUC", "chance that a churner scores above a customer who stays"),
    Metric("pr_auc", "average precision", "precision averaged over every recall level"),
    Metric("precision", "precision", "of the customers flagged at the threshold, the share who churned", "share"),
    Metric("recall", "recall", "of the churners, the share flagged at the threshold", "share"),
    Metric("f1", "F1", "harmonic mean of precision and recall at the threshold"),
    Metric("accuracy", "accuracy", "share of customers classified correctly at the threshold", "share"),
    Metric("brier", "Brier score", "mean squared error of the probabilities", higher_is_better=False),
    Metric("ece", "calibration error", "mean gap of predicted and observed churn (10 bins)", higher_is_better=False),
    Metric("log_loss", "log loss", "mean negative log-likelihood of the outcomes", higher_is_better=False),
    Metric("top_decile_lift", "top-decile lift", "churn rate of the 10% highest scores over the overall rate", "lift"),
    Metric("top_decile_capture", "top-decile capture", "share of all churners among the 10% highest scores", "share"),
    Metric("threshold", "threshold", "probability at or above which a customer is flagged as churning"),
    Metric("churn_rate", "churn rate", "share of customers who churned", "share"),
    Metric("n_rows", "rows", "labelled customers measured", "count"),
)


def no_skill(key: str, churn_rate: float) -> float | None:
    """The value a score without information reaches on data with this churn rate: a constant equal to
    the churn rate for the probability scores, 'everyone stays' for accuracy, a random order for the
    ranking scores; None where no such reference applies."""
    p = min(max(churn_rate, 1e-15), 1 - 1e-15)
    return {
        "roc_auc": 0.5,
        "pr_auc": churn_rate,
        "accuracy": max(churn_rate, 1 - churn_rate),
        "brier": churn_rate * (1 - churn_rate),
        "log_loss": -(p * math.log(p) + (1 - p) * math.log(1 - p)),
        "top_decile_lift": 1.0,
        "top_decile_capture": 0.1,
    }.get(key)


def top_decile(y: np.ndarray, proba: np.ndarray) -> tuple[float | None, float | None]:
    """(lift, capture rate) of the 10 % highest-scored rows (at least one row)."""
    if y.sum() == 0:
        return None, None
    k = max(1, math.ceil(len(y) / 10))
    top = y[np.argsort(-proba, kind="stable")[:k]]
    return float(top.mean() / y.mean()), float(top.sum() / y.sum())


CALIBRATION_BINS = 10


def reliability(y: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS) -> tuple[float, list[dict]]:
    """(expected calibration error, reliability table) over ``bins`` equal-width probability bins.

    Per non-empty bin: its bounds, rows, mean predicted probability and observed churn rate (as
    ``sklearn.calibration.calibration_curve`` computes them); the ECE is the row-weighted mean of
    their absolute differences."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    observed, predicted = calibration_curve(y, proba, n_bins=bins, strategy="uniform")
    index = np.searchsorted(edges[1:-1], proba)  # the bin calibration_curve puts each row in
    counts = np.bincount(index, minlength=bins)
    filled = np.flatnonzero(counts)
    table = [
        {
            "bin_lower": float(edges[b]),
            "bin_upper": float(edges[b + 1]),
            "n": int(counts[b]),
            "mean_predicted": float(predicted[k]),
            "observed_rate": float(observed[k]),
        }
        for k, b in enumerate(filled)
    ]
    ece = float(np.sum(counts[filled] / len(y) * np.abs(observed - predicted)))
    return ece, table


def classification_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict:
    """Metrics of probabilities ``proba`` against 0/1 labels ``y``; AUCs are None for one class."""
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    predicted = (proba >= threshold).astype(int)
    tp = int(((predicted == 1) & (y == 1)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    tn = int(((predicted == 0) & (y == 0)).sum())
    both = 0 < y.sum() < len(y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    lift, capture = top_decile(y, proba)
    ece, table = reliability(y, proba)
    return {
        "roc_auc": float(roc_auc_score(y, proba)) if both else None,
        "pr_auc": float(average_precision_score(y, proba)) if both else None,
        "accuracy": (tp + tn) / len(y),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "brier": float(brier_score_loss(y, proba, pos_label=1)),
        "ece": ece,
        "reliability": table,
        "log_loss": float(log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "threshold": float(threshold),
        "top_decile_lift": lift,
        "top_decile_capture": capture,
        "churn_rate": float(y.mean()),
        "n_rows": len(y),
    }


BOOTSTRAP_CELLS = 4_000_000  # rows × resamples counted at once by the paired bootstrap


def paired_bootstrap_pvalue(
    y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, resamples: int, seed: int
) -> float | None:
    """One-sided p-value that the challenger's ROC-AUC is not higher than the champion's on the same
    rows: the share of paired bootstrap resamples in which it is not (with the usual +1 correction).
    Resampling is stratified (churners and non-churners separately), so every resample keeps the
    holdout's class balance. The ROC-AUCs are compared exactly: with the same rows in both, the
    challenger's is not higher when its Mann–Whitney count (pairs of a churner and a non-churner in
    the right order, ties counted a half) is not higher — an integer, counted for a block of resamples
    at once from each model's score order (sorted once), so a resample costs O(rows), not a sort."""
    if resamples <= 0:
        return None
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_pos, n_neg = len(positives), len(negatives)
    levels = [_score_levels(scores, positives, negatives) for scores in (champion, challenger)]
    block = max(1, BOOTSTRAP_CELLS // max(n_pos + n_neg, 1))  # resamples counted at once (bounded memory)
    not_better = 0
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        pos = np.empty((size, n_pos), dtype=np.int64)  # positions among the churners
        neg = np.empty((size, n_neg), dtype=np.int64)
        for i in range(size):  # the same draws, in the same order, as one resample at a time
            pos[i] = rng.choice(n_pos, n_pos)
            neg[i] = rng.choice(n_neg, n_neg)
        champion_u, challenger_u = (_twice_mann_whitney(pos, neg, *level) for level in levels)
        not_better += int(np.sum(challenger_u <= champion_u))
    return (not_better + 1) / (resamples + 1)


def _score_levels(
    scores: np.ndarray, positives: np.ndarray, negatives: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """(each churner's score level, each non-churner's, the number of levels): the distinct scores in
    increasing order, numbered from 0."""
    _, level = np.unique(scores, return_inverse=True)
    level = level.reshape(-1)
    return level[positives], level[negatives], int(level.max()) + 1 if len(level) else 0


def _twice_mann_whitney(
    pos: np.ndarray, neg: np.ndarray, pos_level: np.ndarray, neg_level: np.ndarray, levels: int
) -> np.ndarray:
    """Per resample (a row of ``pos`` and ``neg``: drawn churners and non-churners), twice the
    Mann–Whitney count: for each drawn churner, twice the drawn non-churners scored below it plus those
    scored equal."""
    size = len(pos)
    offsets = (np.arange(size, dtype=np.int64) * levels)[:, np.newaxis]
    at_level = np.bincount((neg_level[neg] + offsets).ravel(), minlength=size * levels).reshape(size, levels)
    below = np.cumsum(at_level, axis=1) - at_level  # non-churners strictly below each level
    twice = 2 * below + at_level
    return np.take_along_axis(twice, pos_level[pos], axis=1).sum(axis=1)
