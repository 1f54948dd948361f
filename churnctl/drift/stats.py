"""Drift statistics as pure functions over numpy arrays.

Numeric features are compared through the reference's sorted distinct values ``r_0 < … < r_{k-1}``:
the current side is summarised by how many of its values equal each ``r_i`` and how many fall
strictly between consecutive ones (plus their sum). These counts add up chunk by chunk, take
O(k) memory whatever the batch size, and determine the two-sample Kolmogorov–Smirnov statistic
exactly: between two reference points the reference ECDF is flat and the current ECDF rises, so
the largest gap is at an interval's ends, which the counts give.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, false_discovery_control, kstwo, norm, wasserstein_distance

EPS = 1e-4  # floor on bin shares in PSI, so an empty bin gives a large but finite term


def value_counts_at(points: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place ``values`` (no NaN) against sorted distinct ``points``.

    Returns ``equal`` (k: values equal to each point), ``between`` (k+1: values strictly below the
    first point, strictly between consecutive points, strictly above the last) and ``between_sum``
    (k+1: the sum of those values, for the Wasserstein distance).
    """
    k = len(points)
    values = np.sort(values)  # the counts do not depend on the order; sorted keys search faster
    left = np.searchsorted(points, values, side="left")
    hit = left < k
    hit[hit] = points[left[hit]] == values[hit]
    equal = np.bincount(left[hit], minlength=k)[:k]
    between = np.bincount(left[~hit], minlength=k + 1)
    between_sum = np.bincount(left[~hit], weights=values[~hit], minlength=k + 1)
    return equal, between, between_sum


def ks_statistic(ref_counts: np.ndarray, equal: np.ndarray, between: np.ndarray) -> float:
    """Exact two-sample KS statistic sup|F_ref - F_cur| from reference counts per distinct point and
    the current side's ``equal``/``between`` counts (see :func:`value_counts_at`)."""
    n_ref, n_cur = ref_counts.sum(), equal.sum() + between.sum()
    f_ref = np.cumsum(ref_counts) / n_ref
    f_ref_before = np.r_[0.0, f_ref[:-1]]
    below = np.cumsum(between[:-1]) + np.r_[0, np.cumsum(equal)[:-1]]  # current values < r_i
    at = below + equal  # current values <= r_i
    return float(max(np.max(np.abs(f_ref - at / n_cur)), np.max(np.abs(f_ref_before - below / n_cur))))


def ks_pvalue(statistic: float, n_ref: int, n_cur: int) -> float:
    """Two-sided p-value, Smirnov's asymptotic form as in ``scipy.stats.ks_2samp(method="asymp")``:
    the one-sample Kolmogorov distribution at the effective size n_ref·n_cur/(n_ref + n_cur)."""

    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    return float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0.0, 1.0))


def wasserstein_normalised(
    points: np.ndarray,
    ref_counts: np.ndarray,
    equal: np.ndarray,
    between: np.ndarray,
    between_sum: np.ndarray,
    ref_std: float,
) -> float:
    """Wasserstein-1 distance between reference and current, in reference standard deviations.

    Current values that fall strictly between two reference points are represented by their mean
    there; with thousands of reference points this changes the distance negligibly.
    """

    inner = between > 0
    cur_points = np.r_[points, (between_sum[inner] / between[inner])]
    cur_weights = np.r_[equal, between[inner]].astype(float)
    keep = cur_weights > 0
    distance = wasserstein_distance(points, cur_points[keep], ref_counts, cur_weights[keep])
    if ref_std > 0:
        return float(distance / ref_std)
    return float("inf") if distance > 0 else 0.0


def quantile_bin_counts(
    ref_counts: np.ndarray, equal: np.ndarray, between: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(reference, current) counts in ``bins`` reference-quantile bins (fewer if values repeat).

    Bin edges are reference points, bins are right-closed: (-inf, e_1], (e_1, e_2], …, (e_last, inf).
    """
    cum_ref = np.cumsum(ref_counts)
    targets = cum_ref[-1] * np.arange(1, bins) / bins
    edges = np.unique(np.searchsorted(cum_ref, targets, side="left"))  # indices of edge points
    edges = edges[edges < len(ref_counts) - 1]
    at_cur = np.cumsum(between[:-1]) + np.cumsum(equal)  # current values <= r_i
    ref_cum = np.r_[cum_ref[edges], cum_ref[-1]]
    cur_cum = np.r_[at_cur[edges], equal.sum() + between.sum()]
    return np.diff(np.r_[0, ref_cum]), np.diff(np.r_[0, cur_cum])


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index sum (c - r)·ln(c / r) over bins, shares floored at 1e-4."""
    r = np.maximum(ref_counts / max(ref_counts.sum(), 1), EPS)
    c = np.maximum(cur_counts / max(cur_counts.sum(), 1), EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between two count vectors."""
    return float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum(), base=2))


def chi2_homogeneity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the chi-square test that both count vectors share one distribution,
    as ``scipy.stats.chi2_contingency`` (Yates' correction for a 2x2 table). Categories empty on
    both sides are dropped; fewer than two categories left means nothing to test (0, 1)."""

    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def adjust_pvalues(pvalues: list[float], method: str = "bh") -> list[float]:
    """Benjamini–Hochberg (``bh``) or Bonferroni adjusted p-values, in the input order."""
    if not pvalues:
        return []
    p = np.asarray(pvalues, dtype=float)
    if method == "bonferroni":
        return np.minimum(p * len(p), 1.0).tolist()
    return false_discovery_control(p, method="bh").tolist()


def auc_standard_error(auc: float, n_pos: float, n_neg: float) -> float:
    """Hanley & McNeil (1982) standard error of a ROC-AUC estimate (expected counts may be fractional)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(variance, 0.0)))


def auc_drop_pvalue(reference: tuple[float, int, int], current: tuple[float, int, int]) -> float:
    """One-sided p-value that the current AUC is below the reference AUC (independent samples,
    normal approximation with Hanley–McNeil standard errors); each side is (auc, n_pos, n_neg)."""

    se = np.hypot(auc_standard_error(*reference), auc_standard_error(*current))
    if se == 0:
        return 0.0 if current[0] < reference[0] else 1.0
    return float(norm.sf((reference[0] - current[0]) / se))
