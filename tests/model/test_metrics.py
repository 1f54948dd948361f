import numpy as np
import pytest
from sklearn import metrics as skm

from churnctl.model.metrics import METRICS, classification_metrics, no_skill, top_decile
from churnctl.model.threshold import choose_threshold


def test_hand_computed_case():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1, 0.1, 0.05, 0.6])
    m = classification_metrics(y, p, threshold=0.5)
    # predicted 1: rows 0,1,2,9 -> TP 3 (0,2,9), FP 1 (1); TN rows 3-8
    assert m["confusion_matrix"] == [[6, 1], [0, 3]]
    assert m["precision"] == pytest.approx(0.75) and m["recall"] == 1.0
    assert m["accuracy"] == pytest.approx(0.9)
    # top decile = 1 row (p=0.9, a churner): lift = 1 / 0.3, capture = 1/3
    assert m["top_decile_lift"] == pytest.approx(1 / 0.3) and m["top_decile_capture"] == pytest.approx(1 / 3)


def test_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0.001, 0.999)
    m = classification_metrics(y, p, 0.4)
    pred = (p >= 0.4).astype(int)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    assert m["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_one_class_has_no_auc():
    m = classification_metrics(np.zeros(10, int), np.linspace(0, 1, 10), 0.5)
    assert m["roc_auc"] is None and m["pr_auc"] is None and m["top_decile_lift"] is None


def test_top_decile_rounds_up():
    lift, capture = top_decile(np.array([0] * 10 + [1]), np.r_[np.zeros(10), 1.0])
    # ceil(11 / 10) = 2 rows; they hold the one churner: rate 1/2 against 1/11 overall
    assert capture == 1.0 and lift == pytest.approx(0.5 / (1 / 11))


def test_f1_threshold_is_best_over_all_cuts():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    t = choose_threshold(y, p, "f1")
    best = max(skm.f1_score(y, (p >= c).astype(int)) for c in np.unique(p))
    assert skm.f1_score(y, (p >= t).astype(int)) == pytest.approx(best)
    assert choose_threshold(y, p, 0.35) == 0.35
    fpr, tpr, cuts = skm.roc_curve(y, p)
    assert choose_threshold(y, p, "youden") == pytest.approx(min(cuts[np.argmax(tpr - fpr)], 1.0))


def test_expected_calibration_error_and_reliability_table():
    from sklearn.calibration import calibration_curve

    from churnctl.model.metrics import reliability

    # hand-computed: two bins used; |0.2 - 0.5| * 2/4 + |0.8 - 0.5| * 2/4 = 0.3
    y = np.array([0, 1, 1, 0])
    p = np.array([0.2, 0.2, 0.8, 0.8])
    ece, table = reliability(y, p)
    assert ece == pytest.approx(0.3)
    # bins are closed on the right, as calibration_curve's: 0.2 falls in (0.1, 0.2]
    assert [r["bin_upper"] for r in table] == pytest.approx([0.2, 0.8])
    assert [(r["n"], r["observed_rate"]) for r in table] == [(2, 0.5), (2, 0.5)]
    # against scikit-learn's calibration_curve, bin edges included, and by simulation
    rng = np.random.default_rng(3)
    p = np.r_[rng.random(20_000), [0.1, 0.3, 0.5]]
    y = (rng.random(len(p)) < p).astype(int)
    ece, table = reliability(y, p)
    observed, predicted = calibration_curve(y, p, n_bins=10)
    assert [r["observed_rate"] for r in table] == pytest.approx(observed)
    assert [r["mean_predicted"] for r in table] == pytest.approx(predicted)
    assert sum(r["n"] for r in table) == len(p) and ece < 0.02  # calibrated by construction
    assert reliability(y, p / 2)[0] > 0.2  # halved probabilities: badly calibrated


def test_the_paired_bootstrap_counts_exactly_equal_roc_aucs_as_not_better(monkeypatch):
    """Against an exact reference (Mann–Whitney with fractions) on the same resamples, with ties in the
    scores and challengers that rank every row as the champion does (equal ROC-AUC in every resample)."""
    from fractions import Fraction

    from churnctl.model import metrics
    from churnctl.model.metrics import paired_bootstrap_pvalue

    def exact_auc(labels, scores):
        pos = [v for v, t in zip(scores, labels, strict=True) if t == 1]
        neg = [v for v, t in zip(scores, labels, strict=True) if t == 0]
        wins = sum(1 if p > n else Fraction(1, 2) if p == n else 0 for p in pos for n in neg)
        return Fraction(wins, len(pos) * len(neg))

    def reference(y, champion, challenger, resamples, seed):
        rng = np.random.default_rng(seed)
        positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
        not_better = 0
        for _ in range(resamples):
            idx = np.r_[rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
            not_better += exact_auc(labels, challenger[idx]) <= exact_auc(labels, champion[idx])
        return (not_better + 1) / (resamples + 1)

    rng = np.random.default_rng(0)
    for case in range(4):
        y = (rng.random(80) < 0.25).astype(int)
        champion = rng.random(80) + 0.3 * y
        challenger = {
            0: champion + rng.normal(0, 0.1, 80),
            1: np.round(champion + rng.normal(0, 0.1, 80), 1),
            2: champion * 2 + 1,  # the same ranking
            3: np.round(champion, 1),
        }[case]
        assert paired_bootstrap_pvalue(y, champion, challenger, 50, case) == reference(
            y, champion, challenger, 50, case
        )
    assert paired_bootstrap_pvalue(y, champion, champion * 2 + 1, 50, 1) == 1.0  # never better: p = 1
    monkeypatch.setattr(metrics, "BOOTSTRAP_CELLS", 200)  # two resamples at a time: the same draws, the same answer
    assert paired_bootstrap_pvalue(y, champion, challenger, 50, 3) == reference(y, champion, challenger, 50, 3)


@pytest.mark.parametrize("rate", [0.05, 0.2037, 0.5, 0.8])
def test_no_skill_values_are_what_a_constant_or_random_score_reaches(rate):
    from sklearn.metrics import accuracy_score, average_precision_score, brier_score_loss, log_loss, roc_auc_score

    n = 2000
    y = (np.arange(n) < round(rate * n)).astype(int)
    rate = y.mean()
    constant = np.full(n, rate)
    assert no_skill("roc_auc", rate) == roc_auc_score(y, constant)
    assert no_skill("pr_auc", rate) == pytest.approx(average_precision_score(y, constant))
    assert no_skill("brier", rate) == pytest.approx(brier_score_loss(y, constant))
    assert no_skill("log_loss", rate) == pytest.approx(log_loss(y, constant))
    majority = int(rate > 0.5)
    assert no_skill("accuracy", rate) == pytest.approx(accuracy_score(y, np.full(n, majority)))
    # a random order: lift and capture of the top decile average 1 and 10 %
    rng = np.random.default_rng(3)
    lifts = [top_decile(y, rng.random(n))[0] for _ in range(400)]
    assert np.mean(lifts) == pytest.approx(no_skill("top_decile_lift", rate), abs=0.03)


def test_every_metric_computed_has_a_name_and_is_written_as_people_read_it():
    by_key = {m.key: m for m in METRICS}
    computed = classification_metrics(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.4, 0.3]), 0.5)
    assert set(computed) - {"reliability", "confusion_matrix"} <= set(by_key)
    assert by_key["recall"].text(0.655) == "65.5%" and by_key["n_rows"].text(10000) == "10,000"
    assert by_key["top_decile_lift"].text(3.7) == "3.70×" and by_key["roc_auc"].text(None) == "–"
