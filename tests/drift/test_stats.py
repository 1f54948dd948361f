"""Drift statistics against scipy and hand-computed cases; chunked accumulation equals one pass."""

import zlib

import numpy as np
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon

from churnctl.drift import stats
from churnctl.drift.profile import NumericAccumulator, NumericReference


def _accumulate(ref_values, cur_values, chunks=1):
    ref = NumericReference.from_values(ref_values)
    acc = NumericAccumulator(ref)
    for part in np.array_split(cur_values, chunks):
        acc.update(part)
    return ref, acc


@pytest.mark.parametrize("case", ["continuous", "discrete", "shifted", "disjoint", "small"])
def test_ks_matches_scipy(case):
    # crc32, not hash(): str hashes change with every process (PYTHONHASHSEED), and the data must not.
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    if case == "continuous":
        ref, cur = rng.normal(size=3000), rng.normal(size=20000)
    elif case == "discrete":
        ref, cur = rng.integers(0, 11, 5000).astype(float), rng.integers(0, 11, 12000).astype(float)
    elif case == "shifted":
        ref, cur = rng.normal(size=4000), rng.normal(0.1, 1, 15000)
    elif case == "disjoint":
        ref, cur = rng.uniform(0, 1, 500), rng.uniform(2, 3, 700)
    else:
        ref, cur = rng.normal(size=40), rng.normal(size=25)
    profile, acc = _accumulate(ref, cur, chunks=7)
    d = stats.ks_statistic(profile.counts, acc.equal, acc.between)
    expected = ss.ks_2samp(ref, cur, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-9)
    assert stats.ks_pvalue(d, len(ref), len(cur)) == pytest.approx(expected.pvalue, abs=1e-9)


def test_chunked_accumulation_equals_single_pass():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=2000).round(2), rng.normal(size=9000).round(3)
    _, one = _accumulate(ref, cur, chunks=1)
    _, many = _accumulate(ref, cur, chunks=13)
    np.testing.assert_array_equal(one.equal, many.equal)
    np.testing.assert_array_equal(one.between, many.between)
    np.testing.assert_allclose(one.between_sum, many.between_sum)


def test_missing_values_are_counted_not_compared():
    _, acc = _accumulate(np.arange(10.0), np.array([1.0, np.nan, 3.0, np.nan]))
    assert acc.n_missing == 2 and acc.n_present == 2


def test_wasserstein_is_exact_when_values_coincide_with_reference_points():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 50, 3000).astype(float)
    cur = rng.integers(5, 60, 4000).astype(float)  # 50-59 fall above the last reference point
    cur = cur[cur < 50]  # keep every current value on a reference point
    profile, acc = _accumulate(ref, cur)
    w = stats.wasserstein_normalised(
        profile.points, profile.counts, acc.equal, acc.between, acc.between_sum, profile.std
    )
    assert w == pytest.approx(ss.wasserstein_distance(ref, cur) / ref.std(), abs=1e-9)


def test_wasserstein_approximation_is_close_on_continuous_data():
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=5000), rng.normal(0.25, 1, 20000)
    profile, acc = _accumulate(ref, cur)
    w = stats.wasserstein_normalised(
        profile.points, profile.counts, acc.equal, acc.between, acc.between_sum, profile.std
    )
    assert w == pytest.approx(ss.wasserstein_distance(ref, cur) / ref.std(), rel=1e-3)


def test_psi_hand_computed():
    # shares (0.5, 0.5) -> (0.25, 0.75): (0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5)
    expected = -0.25 * np.log(0.5) + 0.25 * np.log(1.5)
    assert stats.psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(expected, abs=1e-12)
    assert stats.psi(np.array([10, 10]), np.array([10, 10])) == 0.0


def test_quantile_bins_follow_reference_deciles():
    ref = np.arange(1000.0)
    profile, acc = _accumulate(ref, ref)
    ref_bins, cur_bins = stats.quantile_bin_counts(profile.counts, acc.equal, acc.between)
    assert ref_bins.tolist() == [100] * 10 and cur_bins.tolist() == [100] * 10
    _, shifted = _accumulate(ref, ref + 500)
    _, cur_bins = stats.quantile_bin_counts(profile.counts, shifted.equal, shifted.between)
    assert cur_bins.tolist() == [0] * 5 + [100] * 4 + [600]


def test_js_distance_and_chi2_match_scipy():
    ref, cur = np.array([500.0, 250, 250]), np.array([400.0, 400, 200])
    assert stats.js_distance(ref, cur) == pytest.approx(jensenshannon(ref / 1000, cur / 1000, base=2), abs=1e-12)
    assert stats.js_distance(ref, cur) == pytest.approx(0.1365, abs=1e-3)  # the docstring's 15-point example
    for table in ([[120, 80, 40], [100, 90, 60]], [[30, 70], [45, 55]], [[500, 0], [480, 20]]):
        table = np.array(table, dtype=float)
        statistic, p = stats.chi2_homogeneity(table[0], table[1])
        expected = ss.chi2_contingency(table)
        assert statistic == pytest.approx(expected.statistic, abs=1e-9)
        assert p == pytest.approx(expected.pvalue, abs=1e-9)
    assert stats.chi2_homogeneity(np.array([5.0, 0]), np.array([7.0, 0])) == (0.0, 1.0)


def test_multiple_testing_hand_computed():
    p = [0.01, 0.04, 0.03, 0.5]
    # BH: sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.0533, 0.0533, 0.5 (monotone from the top)
    np.testing.assert_allclose(stats.adjust_pvalues(p, "bh"), [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    np.testing.assert_allclose(stats.adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 1.0])


def test_auc_standard_error_hand_computed_and_by_simulation():
    # By hand: A = 0.9, Q1 = 0.9/1.1, Q2 = 2(0.81)/1.9;
    # var = (0.09 + 44(Q1 - 0.81) + 57(Q2 - 0.81)) / (45 * 58) = 2.88 / 2610
    assert stats.auc_standard_error(0.9, 45, 58) == pytest.approx(np.sqrt(2.88 / 2610), rel=1e-6)
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    aucs = []
    for _ in range(300):
        y = np.r_[np.ones(100), np.zeros(300)]
        s = np.r_[rng.normal(1.2, 1, 100), rng.normal(0, 1, 300)]
        aucs.append(roc_auc_score(y, s))
    assert stats.auc_standard_error(np.mean(aucs), 100, 300) == pytest.approx(np.std(aucs), rel=0.2)
    assert stats.auc_drop_pvalue((0.85, 400, 1600), (0.70, 400, 1600)) < 1e-6
    assert stats.auc_drop_pvalue((0.85, 400, 1600), (0.86, 400, 1600)) > 0.5
