"""Reference and current distributions to draw, from the accumulators' counts (no rows kept).

* A numeric feature with many values is drawn as two empirical cumulative distributions (ECDFs) on
  its own axis: the share of rows at or below each value, exact at every distinct reference value
  (what the Kolmogorov–Smirnov test compares: its statistic is the largest vertical gap). Current
  values outside the reference's range are counted apart (``below``, ``above``).
* A numeric feature of a few whole values (products held, a 0–10 tenure) is drawn value by value,
  never binned: merging 3 and 4 products would hide the strongest churn signal of a bank table.
* A categorical feature keeps its ``CATEGORIES`` most frequent reference categories, the rest as
  "other", and unseen ones as "unseen".

Shares are of non-missing rows on each side. The binned numeric shares of :func:`numeric_distribution`
(equal numbers of reference rows per bin) remain for tables.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from churnctl.drift.profile import CategoricalAccumulator, NumericAccumulator

BINS = 20
CATEGORIES = 12
DISCRETE_VALUES = 15  # whole-valued numeric features with at most this many distinct values: one bar each
ECDF_POINTS = 400  # reference values an ECDF is drawn through, at most (quantiles of the reference)


@dataclass
class Distribution:
    kind: str  # numeric | discrete | categorical
    labels: list[str]  # one per bin, value or category
    reference: list[float]  # shares
    current: list[float]
    edges: list[float] | None = None  # numeric: the bin edges (len(labels) - 1 inner bins + 2 outer)
    points: list[float] = field(default_factory=list)  # numeric: values the ECDFs are drawn through
    reference_cdf: list[float] = field(default_factory=list)  # share of rows at or below each point
    current_cdf: list[float] = field(default_factory=list)
    below: float = 0.0  # share of current rows below the reference's smallest value
    above: float = 0.0  # ... and above its largest


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total > 0 else [0.0] * len(counts)


def numeric_distribution(acc: NumericAccumulator) -> Distribution:
    """Quantile bins of the reference (for tables), with the ECDFs (for plots) — or, for a few whole
    values, one share per value."""
    points, ref_counts = acc.reference.points, acc.reference.counts
    if len(points) == 0:
        return Distribution("numeric", [], [], [])
    if len(points) <= DISCRETE_VALUES and np.all(points == np.round(points)):
        return _discrete(acc)
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
    out = Distribution("numeric", labels, _shares(ref), _shares(cur), edges)
    n_cur = max(acc.n_present, 1)
    drawn = np.unique(np.linspace(0, len(points) - 1, min(len(points), ECDF_POINTS)).round().astype(int))
    out.points = points[drawn].tolist()
    out.reference_cdf = (cum_ref[drawn] / cum_ref[-1]).tolist()
    out.current_cdf = (cum_cur[drawn] / n_cur).tolist() if acc.n_present else []
    out.below, out.above = float(acc.between[0] / n_cur), float(acc.between[-1] / n_cur)
    return out


def _discrete(acc: NumericAccumulator) -> Distribution:
    """One share per reference value; current values between or beyond them are "other values"."""
    points = acc.reference.points
    ref = np.append(acc.reference.counts.astype(float), 0.0)
    cur = np.append(acc.equal.astype(float), float(acc.between.sum()))
    labels = [f"{p:g}" for p in points] + ["other values"]
    keep = np.ones(len(labels), dtype=bool)
    keep[-1] = cur[-1] > 0
    return Distribution(
        "discrete",
        [label for label, k in zip(labels, keep, strict=True) if k],
        [s for s, k in zip(_shares(ref), keep, strict=True) if k],
        [s for s, k in zip(_shares(cur), keep, strict=True) if k],
    )


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
