"""The campaign's profit estimated without labels: against a hand computation, against Bernoulli
outcomes drawn from the probabilities themselves, and by simulation through drift-check's monitor
(batches of simulated customers without concept drift: the band covers the realised profit about 95 %
of the time; with a changed churn mechanism it does not). `make test` runs 8 batches, `make test-slow`
100."""

import numpy as np
import pytest

from churnctl.config import ValueSettings
from churnctl.synthetic import Drift, simulate_customers
from churnctl.value.campaign import Campaign
from churnctl.value.estimate import Z95, estimate_profit

CAMPAIGN = Campaign.from_settings(
    ValueSettings(customer_value=1000.0, contact_cost=10.0, incentive_cost=50.0, acceptance_rate=0.3)
)
BATCHES = [pytest.param(8, 7, id="8-batches"), pytest.param(100, 90, id="100-batches", marks=pytest.mark.slow)]


def test_hand_computed_estimate():
    # benefit 0.3 * 950 - 10 = 275, cost 60; contacted: p = 0.9 and 0.5
    e = estimate_profit(np.array([0.9, 0.5, 0.1]), np.full(3, 1000.0), CAMPAIGN, 0.5, np.array([1, 0, -1]))
    assert e.contacted == 2
    assert e.profit_per_customer == pytest.approx((0.9 * 275 - 0.1 * 60 + 0.5 * 275 - 0.5 * 60) / 3)
    half = Z95 * np.sqrt(335**2 * (0.9 * 0.1 + 0.5 * 0.5)) / 3
    assert (e.low, e.high) == (pytest.approx(e.profit_per_customer - half), pytest.approx(e.profit_per_customer + half))
    assert e.n_labelled == 2 and e.realised_per_customer == pytest.approx((275 - 60) / 2)


def test_the_band_covers_outcomes_drawn_from_the_probabilities():
    rng = np.random.default_rng(5)
    p = rng.beta(1.5, 5, 3000)
    values = rng.gamma(3.0, 300.0, len(p))
    covered = 0
    for _ in range(1000):
        y = (rng.random(len(p)) < p).astype(int)
        e = estimate_profit(p, values, CAMPAIGN, 0.3, y)
        covered += e.low <= e.realised_per_customer <= e.high
    assert 0.93 <= covered / 1000 <= 0.97


@pytest.fixture(scope="module")
def run_batch(bank_hgb_monitors):
    monitors = bank_hgb_monitors

    def check(drift: Drift, seed: int):
        monitor = monitors(campaign=CAMPAIGN)
        monitor.update(simulate_customers(5_000, seed=seed, drift=drift))
        return monitor.report().estimated_profit

    return check


@pytest.mark.parametrize("batches, least", BATCHES)
def test_without_concept_drift_the_estimate_is_within_sampling_error_of_the_realised_profit(run_batch, batches, least):
    covered, errors, widths = 0, [], []
    for i in range(batches):
        e = run_batch(Drift(shift={"Age": 3}) if i % 2 else Drift(), 70_000 + i)  # covariate shift is fine
        covered += e.low <= e.realised_per_customer <= e.high
        errors.append(e.profit_per_customer - e.realised_per_customer)
        widths.append(e.high - e.low)
    assert covered >= least, f"realised profit inside the band in {covered} of {batches} batches"
    assert abs(np.mean(errors)) <= np.mean(widths) / 4, "the estimate is biased"


@pytest.mark.slow
def test_a_changed_churn_mechanism_shows_as_realised_profit_outside_the_band(run_batch):
    outside = sum(bool(run_batch(Drift(concept=1.0), 80_000 + i).realised_outside_band) for i in range(20))
    assert outside >= 15, f"outside the band in {outside} of 20 batches"
