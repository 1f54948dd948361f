"""Two model versions scored on the same labelled rows: their metrics, the ROC-AUC difference and a
one-sided paired bootstrap of it. ``models compare`` and retrain's champion/challenger decision both
ask this one function."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.frames import prepare_features
from churnctl.contract.rows import unseen_warnings
from churnctl.model.metrics import classification_metrics, paired_bootstrap_pvalue
from churnctl.model.scorer import Scorer


@dataclass
class PairedScores:
    """Versions ``a`` and ``b`` on the same rows (``y``: their labels)."""

    y: np.ndarray
    scores: dict[str, np.ndarray]  # churn probabilities, per version
    metrics: dict[str, dict]  # per version, at its own threshold
    roc_auc_difference: float | None  # b - a; None when the rows hold one class only
    p_value: float | None  # one-sided: b's ROC-AUC is not higher than a's (None: not tested)
    warnings: list[str] = field(default_factory=list)  # categories the versions never saw


def compare(
    a: Scorer, b: Scorer, frame: pd.DataFrame, y: np.ndarray, source: str, *, bootstrap: int, seed: int
) -> PairedScores:
    """Score ``frame`` (labelled rows, labels ``y``; ``source`` names them in messages) with both
    versions and test B against A with ``bootstrap`` paired resamples (0: no test)."""
    scores, metrics, warnings = {}, {}, []
    for model in (a, b):
        X, unseen = prepare_features(frame, model.schema, source=source)
        warnings += unseen_warnings(unseen, f"{source} ({model.version})")
        scores[model.version] = model.predict_proba(X)
        metrics[model.version] = classification_metrics(y, scores[model.version], model.threshold)
    defined = metrics[a.version]["roc_auc"] is not None
    return PairedScores(
        y=y,
        scores=scores,
        metrics=metrics,
        roc_auc_difference=metrics[b.version]["roc_auc"] - metrics[a.version]["roc_auc"] if defined else None,
        p_value=paired_bootstrap_pvalue(y, scores[a.version], scores[b.version], bootstrap, seed) if defined else None,
        warnings=warnings,
    )
