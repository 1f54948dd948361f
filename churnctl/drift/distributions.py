"""Reference and current distributions to draw, from the accumulators' counts (no rows kept).

A numeric feature is binned at quantiles of its reference (up to ``BINS`` bins whose edges are
reference points), plus a bin below and one above the reference's range; a bin holds the values
``(edge[i], edge[i+1]]`` (the first also its lower edge). A categorical feature keeps its
``CATEGORIES`` most frequent reference categories, the rest as "other", and unseen ones as "unseen".
Shares are of non-missing rows on each side.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from churnctl.drift.profile import CategoricalAccumulator, NumericAccumulator

BINS = 20
CATEGORIES = 12


@dataclass
class Distribution:
    kind: str  # numeric | categorical
    labels: list[str]  # one per bin or category
    reference: list[float]  # shares
    current: list[float]
    edges: list[float] | None = None  # numeric: the bin edges (len(labels) - 1 inner bins + 2 outer)


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total > 0 else [0.0] * len(counts)


def numeric_distribution(acc: NumericAccumulator) -> Distribution:
    points, ref_counts = acc.reference.points, acc.reference.counts
    if len(points) == 0:
        return Distribution("numeric", [], [], [])
    cum_ref = np.cumsum(ref_counts)
    wanted = np.linspace(0, 1, BINS + 1) * cum_ref[-1]  # equal numbers of reference rows per bin
    index = np.unique(np.clip(np.searchsorted(cum_ref, wanted, side="left"), 0, len(points) - 1))
    # current values at or below each reference point: equal and between counts up to it
    cum_cur = np.cumsum(acc.equal) + np.cumsum(acc.between[:-1])
    ref_at = cum_ref[index]
    cur_at = cum_cur[index]
    below_ref, below_cur = 0, int(acc.between[0])  # reference values are all >= its first point
    first_ref, first_cur = ref_at[0], cur_at[0] - below_cur
    ref = np.concatenate([[below_ref, first_ref], np.diff(ref_at), [0]]).astype(float)
    cur = np.concatenate([[below_cur, first_cur], np.diff(cur_at), [int(acc.between[-1])]]).astype(float)
    edges = points[index].tolist()
    labels = [f"< {edges[0]:.4g}", f"= {edges[0]:.4g}"]
    labels += [f"({a:.4g}, {b:.4g}]" for a, b in itertools.pairwise(edges)]
    labels += [f"> {edges[-1]:.4g}"]
    return Distribution("numeric", labels, _shares(ref), _shares(cur), edges)


def categorical_distribution(acc: CategoricalAccumulator) -> Distribution:
    reference = acc.reference.counts
    kept = [c for c, _ in sorted(reference.items(), key=lambda kv: -kv[1])[:CATEGORIES]]
    others_ref = sum(n for c, n in reference.items() if c not in kept)
    others_cur = sum(n for c, n in acc.counts.items() if c not in kept and c in reference)
    unseen_cur = sum(n for c, n in acc.counts.items() if c not in reference)
    labels = [*kept, "(other)", "(unseen)"]
    ref = np.array([reference[c] for c in kept] + [others_ref, 0], dtype=float)
    cur = np.array([acc.counts.get(c, 0) for c in kept] + [others_cur, unseen_cur], dtype=float)
    keep = (ref > 0) | (cur > 0)
    keep[: len(kept)] = True
    return Distribution(
        "categorical",
        [label for label, k in zip(labels, keep, strict=True) if k],
        [s for s, k in zip(_shares(ref), keep, strict=True) if k],
        [s for s, k in zip(_shares(cur), keep, strict=True) if k],
    )


def distributions(accumulators: dict, scores: NumericAccumulator) -> dict[str, Distribution]:
    """Every feature's distribution, and the churn probabilities' under the key ``""``."""
    out: dict[str, Distribution] = {}
    for name, acc in accumulators.items():
        out[name] = numeric_distribution(acc) if isinstance(acc, NumericAccumulator) else categorical_distribution(acc)
    out[""] = numeric_distribution(scores)
    return out
