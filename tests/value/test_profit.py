"""The money of a campaign, held to empulse's own functions and to brute force."""

import numpy as np
import pytest

from churnctl.config import ValueSettings, parse_policy
from churnctl.errors import UsageError
from churnctl.value.campaign import Campaign
from churnctl.value.policy import choose
from churnctl.value.profit import deciles, max_profit, paired_profit_pvalue, profit_curve, value_report

empulse = pytest.importorskip("empulse.metrics")


def campaign(**overrides) -> Campaign:
    settings = {"customer_value": 200.0, "contact_cost": 1.0, "incentive_cost": 10.0, "acceptance_rate": 0.3}
    settings.update(overrides)
    made = Campaign.from_settings(ValueSettings(**settings))
    assert made is not None
    return made


def scores(n: int = 4000, seed: int = 0, decimals: int | None = 3):
    rng = np.random.default_rng(seed)
    proba = rng.beta(2, 5, n)
    if decimals is not None:
        proba = np.round(proba, decimals)  # ties, as real scores have
    return (rng.random(n) < proba).astype(int), proba


def brute_force(y, proba, values, c: Campaign):
    """Every threshold tried: the profit of contacting exactly the customers at or above it."""
    outcome = c.outcome(y, values)
    return {t: float(outcome[proba >= t].sum()) for t in np.unique(proba)}


@pytest.mark.parametrize("decimals", [2, 3, None])
def test_the_most_profitable_threshold_beats_every_other_and_agrees_with_empulse(decimals):
    y, proba = scores(decimals=decimals)
    c, values = campaign(), np.full(len(y), 200.0)
    profits = brute_force(y, proba, values, c)
    best_t = max(profits, key=profits.get)
    curve = profit_curve(y, proba, values, c)
    t, contacted, total = curve.best()
    assert t == best_t and total == pytest.approx(max(profits.values()))
    assert contacted == int((proba >= t).sum())
    mpc = empulse.mpc_score
    args = {"accept_rate": 0.3, "clv": 200.0, "incentive_cost": 10.0, "contact_cost": 1.0}
    assert total / len(y) == pytest.approx(mpc(y, proba, **args))
    assert t == pytest.approx(mpc.optimal_threshold(y, proba, **args))
    assert contacted / len(y) == pytest.approx(mpc.optimal_rate(y, proba, **args))
    ours = max_profit(y, proba, values, c)
    assert ours["profit_per_customer"] == pytest.approx(total / len(y)) and ours["threshold"] == pytest.approx(t)


def test_each_customers_own_value_is_used_exactly():
    """With one value per customer the best threshold is the brute-force one, not the one of the mean."""
    y, proba = scores(seed=4)
    values = np.random.default_rng(5).gamma(2.0, 150.0, len(y))
    c = campaign(customer_value=None, customer_value_column="value")
    profits = brute_force(y, proba, values, c)
    best = max_profit(y, proba, values, c)
    assert best["profit_per_customer"] * len(y) == pytest.approx(max(profits.values()))
    assert profits[best["threshold"]] == pytest.approx(max(profits.values()))
    assert profit_curve(y, proba, values, c).best()[2] == pytest.approx(max(profits.values()))


def test_profit_at_a_threshold_and_the_references():
    y = np.array([1, 0, 1, 0, 0, 1])
    proba = np.array([0.9, 0.8, 0.7, 0.4, 0.2, 0.1])
    c = campaign()  # a churner contacted: 0.3 * 190 - 1 = 56; a stayer: -11
    report = value_report(y, proba, np.full(6, 200.0), c, threshold=0.7).to_dict()
    assert report["at_threshold"]["contacted"] == 3 and report["at_threshold"]["profit"] == pytest.approx(56 - 11 + 56)
    assert report["contact_everyone_profit"] == pytest.approx(3 * 56 - 3 * 11)
    assert report["perfect_model_profit"] == pytest.approx(3 * 56)
    assert report["best"]["profit"] == pytest.approx(max(brute_force(y, proba, np.full(6, 200.0), c).values()))
    assert report["emp"] is None  # a fixed acceptance rate: no distribution to integrate over
    shares = [p["share"] for p in report["curve"]]
    assert (
        shares[0] == 0
        and shares[-1] == 1
        and report["curve"][-1]["profit_per_customer"] == pytest.approx(report["contact_everyone_profit"] / 6)
    )


def test_emp_is_empulses_expected_maximum_profit():
    y, proba = scores(seed=2)
    c = campaign(acceptance_rate={"alpha": 6.0, "beta": 14.0})
    emp = value_report(y, proba, np.full(len(y), 200.0), c, 0.3).emp
    args = {"alpha": 6, "beta": 14, "clv": 200.0, "incentive_cost": 10.0, "contact_cost": 1.0}
    assert emp["emp_per_customer"] == pytest.approx(empulse.empc_score(y, proba, **args))
    assert emp["share"] == pytest.approx(empulse.empc_score.optimal_rate(y, proba, **args))
    assert c.acceptance == pytest.approx(0.3)  # figures at one rate use the mean


def test_deciles_agree_with_empulses_lift_and_with_counting():
    y, proba = scores(n=5000, seed=3, decimals=None)
    table = deciles(y, proba)
    assert [r["rows"] for r in table] == [500] * 10
    assert table[0]["lift"] == pytest.approx(empulse.lift_score(y, proba, fraction=0.1))
    assert table[2]["cumulative_lift"] == pytest.approx(empulse.lift_score(y, proba, fraction=0.3))
    assert table[-1]["cumulative_gain"] == pytest.approx(1.0) and sum(r["churners"] for r in table) == y.sum()


def test_net_value_expected_cost_and_outcome():
    c = campaign()
    assert c.net_value(np.array([0.0, 1.0]), 200.0).tolist() == pytest.approx([-11.0, 56.0])
    assert c.expected_cost(np.array([0.0, 1.0])).tolist() == pytest.approx([11.0, 1.0 + 10.0 * 0.3])
    # the expected outcome of contacting equals the net value on average (simulated labels)
    rng = np.random.default_rng(9)
    p = rng.random(200_000)
    realised = c.outcome((rng.random(len(p)) < p).astype(int), 200.0).mean()
    assert realised == pytest.approx(c.net_value(p, 200.0).mean(), abs=0.3)


@pytest.mark.parametrize("share", [0.05, 0.1, 0.37])
def test_top_share_flags_that_share(share):
    y, proba = scores(n=2000, seed=6, decimals=None)
    chosen = choose(parse_policy(f"top:{share}"), y, proba)
    assert (proba >= chosen.threshold).sum() == int(np.ceil(share * len(y)))


def test_a_budget_is_spent_and_not_exceeded():
    y, proba = scores(n=3000, seed=7, decimals=None)
    c = campaign()
    chosen = choose(parse_policy("budget:2500"), y, proba, campaign=c, values=np.full(len(y), 200.0), base_rows=6000)
    contacted = np.sort(proba[proba >= chosen.threshold])
    spend = c.expected_cost(contacted).sum() * 2
    next_one = c.expected_cost(np.array([proba[proba < chosen.threshold].max()])).sum() * 2
    assert spend <= 2500 < spend + next_one
    assert chosen.figures["expected_spend"] == pytest.approx(spend)


def test_the_profit_policy_picks_the_brute_force_threshold():
    y, proba = scores(seed=8)
    values = np.full(len(y), 200.0)
    chosen = choose(parse_policy("profit"), y, proba, campaign=campaign(), values=values)
    profits = brute_force(y, proba, values, campaign())
    assert profits[chosen.threshold] == pytest.approx(max(profits.values()))
    assert chosen.figures["profit_per_customer"] * len(y) == pytest.approx(max(profits.values()))


def test_when_no_contact_pays_the_profit_policy_flags_nobody_and_says_so():
    y, proba = scores(seed=8)
    c = campaign(customer_value=5.0)  # worth less than the incentive
    chosen = choose(parse_policy("profit"), y, proba, campaign=c, values=np.full(len(y), 5.0))
    assert chosen.threshold == 1.0 and chosen.warnings


@pytest.mark.parametrize("policy", ["top:0", "top:1.5", "budget:-3", "profitt", "1.2", "budget:x"])
def test_bad_policies_are_usage_errors(policy):
    with pytest.raises(UsageError, match="threshold policy"):
        parse_policy(policy)


def test_value_policies_need_value_settings():
    y, proba = scores(n=500)
    with pytest.raises(UsageError, match="needs the value of a customer"):
        choose(parse_policy("profit"), y, proba)


def test_the_profit_bootstrap_tells_a_better_model_from_an_equal_one():
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.2).astype(int)
    c = campaign()
    outcome = c.outcome(y, 200.0)
    weak = np.where(rng.random(3000) < 0.5, outcome, 0.0)  # contacts half of everyone, at random
    strong = np.where(y == 1, outcome, 0.0)  # contacts exactly the churners
    assert paired_profit_pvalue(y, weak, strong, 500, 0) < 0.01
    assert paired_profit_pvalue(y, strong, weak, 500, 0) > 0.9
    assert paired_profit_pvalue(y, weak, weak, 200, 0) == 1.0
    assert paired_profit_pvalue(y, weak, strong, 0, 0) is None
