"""Permutation importance of a fitted pipeline's features, within a time budget."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

IMPORTANCE_ROWS = 5000  # held-out rows the importance is measured on, at most (a seeded sample)


def seeded_rows(n: int, rows: int, seed: int) -> np.ndarray | None:
    """The sorted positions of a seeded sample of ``rows`` of ``n`` rows (None: there are no more)."""
    return np.sort(np.random.default_rng(seed).choice(n, rows, replace=False)) if n > rows else None


def feature_importance(
    pipeline: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    seed: int,
    max_rows: int = IMPORTANCE_ROWS,
    seconds: float | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Permutation importance (drop of ROC-AUC) per feature on held-out rows, as shares summing to 1,
    and the spread of each share over the repeats (standard deviation, on the same scale).

    With ``seconds``, the rows and repeats are cut to fit that time. The cost is measured, not
    guessed: one scoring of the rows, times one per feature and repeat (a wide pipeline costs per
    call, whatever the rows). At least one repeat on 500 rows, else no importance at all (an empty
    dict).
    """
    if seconds is not None and seconds <= 0:
        return {}, {}
    keep = seeded_rows(len(y), max_rows, seed)
    if keep is not None:
        X, y = X.iloc[keep], y[keep]
    if y.min() == y.max():
        return {}, {}
    repeats = 5
    if seconds is not None:
        for rows in (len(y), 500):
            if rows > len(y):
                continue
            keep = seeded_rows(len(y), rows, seed)
            if keep is not None:
                if y[keep].min() == y[keep].max():
                    return {}, {}
                X, y = X.iloc[keep], y[keep]
            t0 = time.monotonic()
            pipeline.predict_proba(X)
            seconds -= time.monotonic() - t0
            per_repeat = (time.monotonic() - t0) * (X.shape[1] + 1)  # every feature, and the baseline
            repeats = int(min(5, seconds // max(per_repeat, 1e-9)))
            if repeats >= 1:
                break
        else:
            return {}, {}
    result = permutation_importance(pipeline, X, y, scoring="roc_auc", n_repeats=repeats, random_state=seed)
    raw = np.maximum(result.importances_mean, 0.0)
    total = raw.sum()
    scale = 1.0 / total if total > 0 else 0.0
    shares = {name: float(v * scale) for name, v in zip(X.columns, raw, strict=True)}
    spreads = {name: float(v * scale) for name, v in zip(X.columns, result.importances_std, strict=True)}
    return shares, spreads
