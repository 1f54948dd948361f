"""The per-feature tests, from the accumulators' counts alone (no rows kept): numeric features (and the
churn probabilities) by Kolmogorov–Smirnov, categorical and binary ones by chi-square, each with its
effect size."""

from __future__ import annotations

import numpy as np

from churnctl.drift import stats
from churnctl.drift.profile import CategoricalAccumulator, NumericAccumulator
from churnctl.drift.result import TestResult


def numeric_test(accumulator: NumericAccumulator) -> TestResult:
    """Two-sample Kolmogorov–Smirnov of the current values against the reference, with the
    Wasserstein-1 distance in reference standard deviations and PSI."""
    ref = accumulator.reference
    if accumulator.n_present == 0 or len(ref.points) == 0:
        return TestResult()
    d = stats.ks_statistic(ref.counts, accumulator.equal, accumulator.between)
    p = stats.ks_pvalue(d, int(ref.counts.sum()), accumulator.n_present)
    w = stats.wasserstein_normalised(
        ref.points, ref.counts, accumulator.equal, accumulator.between, accumulator.between_sum, ref.std
    )
    ref_bins, cur_bins = stats.quantile_bin_counts(ref.counts, accumulator.equal, accumulator.between)
    return TestResult(statistic=d, p_value=p, effect_size=w, psi=stats.psi(ref_bins, cur_bins))


def categorical_test(accumulator: CategoricalAccumulator) -> TestResult:
    """Chi-square test of homogeneity of the category counts, with the Jensen–Shannon distance and PSI
    (categories never seen in training count on the current side)."""
    categories = list(accumulator.reference.counts) + [
        c for c in accumulator.counts if c not in accumulator.reference.counts
    ]
    ref = np.array([accumulator.reference.counts.get(c, 0) for c in categories], dtype=float)
    cur = np.array([accumulator.counts.get(c, 0) for c in categories], dtype=float)
    if cur.sum() == 0 or ref.sum() == 0:
        return TestResult()
    chi2, p = stats.chi2_homogeneity(ref, cur)
    js = stats.js_distance(ref, cur)
    return TestResult(statistic=chi2, p_value=p, effect_size=js, psi=stats.psi(ref, cur), js=js)
