"""Alert bounds from the reference period (as NannyML's thresholds): how much each metric varies from
chunk to chunk when nothing has changed.

The reference rows (the training sample a version keeps) are split in two halves; ``[drift]
reference_chunks`` chunks of the current chunks' size are drawn from one and checked against the other
exactly as a current chunk is checked against the reference; a metric's bounds are the mean ± 3
standard deviations of its values over those chunks (effect sizes on the square-root scale, where
chance makes them close to normal).
A current chunk's feature (or prediction) effect size is judged against the larger of the configured
minimum and the upper bound: on small chunks chance alone moves a metric past the configured minimum,
and the bound keeps those moves from alerting (with the significance test, which must agree too); on
large chunks the bound is below the minimum, which then stands for what is worth an alert. The ROC-AUC
estimated without labels gets bounds too, shown beside the estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SIGMAS = 3.0


@dataclass
class Bounds:
    chunk_rows: int
    n_chunks: int
    features: dict[str, tuple[float, float]] = field(default_factory=dict)  # effect size: (lower, upper)
    prediction: tuple[float, float] | None = None  # prediction drift effect size
    estimated_roc_auc: tuple[float, float] | None = None

    def upper(self, feature: str | None) -> float | None:
        """The upper bound of a feature's effect size (None: the prediction drift's)."""
        bound = self.prediction if feature is None else self.features.get(feature)
        return None if bound is None else bound[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_rows": self.chunk_rows,
            "n_chunks": self.n_chunks,
            "features": {k: list(v) for k, v in self.features.items()},
            "prediction": list(self.prediction) if self.prediction else None,
            "estimated_roc_auc": list(self.estimated_roc_auc) if self.estimated_roc_auc else None,
        }


def _spread(values: list[float], floor: float | None = 0.0, sqrt: bool = False) -> tuple[float, float] | None:
    """Mean ± 3 SD of ``values``; with ``sqrt``, on the square-root scale, where the effect sizes chance
    gives (distances, never negative, skewed right) are close to normal, then squared back."""
    finite = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if len(finite) < 3:
        return None
    scaled = np.sqrt(np.clip(finite, 0, None)) if sqrt else finite
    mean, sd = float(np.mean(scaled)), float(np.std(scaled, ddof=1))
    lower, upper = mean - SIGMAS * sd, mean + SIGMAS * sd
    if sqrt:
        lower, upper = max(lower, 0.0) ** 2, upper**2
    return (max(lower, floor) if floor is not None else lower, upper)


def reference_bounds(
    reference: pd.DataFrame,
    chunk_rows: int,
    n_chunks: int,
    seed: int,
    check: Callable[[pd.DataFrame, pd.DataFrame], Any],
) -> Bounds | None:
    """Bounds from ``n_chunks`` chunks of ``chunk_rows`` rows of one half of the reference (disjoint while
    that half lasts, then drawn again), each checked by ``check`` (a chunk, and the other half of the
    reference as the reference it is compared with → a drift report). Comparing a chunk with rows it is
    not part of gives the variation of independent samples, as current chunks are; a half reference
    varies a little more than the whole, so the bounds err wide. None when half the reference holds
    fewer than two chunks."""
    rng = np.random.default_rng(seed)
    shuffled = reference.iloc[rng.permutation(len(reference))].reset_index(drop=True)
    half = len(shuffled) // 2
    pool, against = shuffled.iloc[:half].reset_index(drop=True), shuffled.iloc[half:].reset_index(drop=True)
    if n_chunks <= 0 or chunk_rows < 10 or half < 2 * chunk_rows:
        return None
    rounds = n_chunks * chunk_rows // half + 1
    order = np.concatenate([rng.permutation(half) for _ in range(rounds)])
    effects: dict[str, list[float]] = {}
    prediction, estimated = [], []
    for i in range(n_chunks):
        report = check(pool.iloc[order[i * chunk_rows : (i + 1) * chunk_rows]].reset_index(drop=True), against)
        for name, feature in report.features.items():
            effects.setdefault(name, []).append(feature.effect_size)
        prediction.append(report.prediction_drift.effect_size)
        estimated.append(report.estimated_performance.roc_auc)
    bounds = Bounds(chunk_rows, n_chunks)
    for name, values in effects.items():
        spread = _spread(values, sqrt=True)
        if spread is not None:
            bounds.features[name] = spread
    bounds.prediction = _spread(prediction, sqrt=True)
    bounds.estimated_roc_auc = _spread(estimated, floor=None)
    return bounds
