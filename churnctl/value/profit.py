"""Profit of a campaign on labelled rows: lift and gains by decile, the profit curve over the share
contacted (customers taken from the highest churn probability down), the profit-maximising share and
threshold, the profit at a given threshold, and the expected maximum profit (EMP).

The maximum profit, its threshold and share, and the EMP come from ``empulse`` (Verbraken et al.'s
measures, with the cost matrix of :mod:`~churnctl.value.campaign`); the curve is the same profit at
every threshold (a cumulative sum over the ranking, ties taken together), so its top is the maximum
empulse reports — the tests hold the two to each other.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from churnctl.value.campaign import Campaign

CURVE_POINTS = 101  # points of the curve kept for JSON and plots (shares 0 %, 1 %, ..., 100 %)
DECILES = 10


def deciles(y: np.ndarray, proba: np.ndarray) -> list[dict[str, Any]]:
    """Lift and cumulative gains by decile of churn probability (highest first): each decile's rows,
    churners, churn rate and lift, and the share of all churners found down to it (with its lift)."""
    y = np.asarray(y).astype(int)
    order = np.argsort(-np.asarray(proba, dtype=float), kind="stable")
    bounds = np.ceil(np.linspace(0, len(y), DECILES + 1)).astype(int)
    rate, churners, rows = y.mean() if len(y) else 0.0, max(int(y.sum()), 1), []
    for d in range(DECILES):
        part = y[order[bounds[d] : bounds[d + 1]]]
        down_to = y[order[: bounds[d + 1]]]
        rows.append(
            {
                "decile": d + 1,
                "rows": len(part),
                "churners": int(part.sum()),
                "churn_rate": float(part.mean()) if len(part) else None,
                "lift": float(part.mean() / rate) if len(part) and rate else None,
                "cumulative_gain": float(down_to.sum() / churners),
                "cumulative_lift": float(down_to.mean() / rate) if len(down_to) and rate else None,
            }
        )
    return rows


@dataclass
class ProfitCurve:
    """Profit (expected over acceptance) of contacting every customer at or above each threshold."""

    thresholds: np.ndarray  # distinct probabilities, highest first; contacting nobody is the start
    contacted: np.ndarray  # customers at or above each
    profit: np.ndarray  # total profit of contacting them
    n: int

    def at(self, threshold: float) -> tuple[int, float]:
        """(customers contacted, total profit) at ``threshold``."""
        k = int(np.searchsorted(-self.thresholds, -threshold, side="right"))
        return (int(self.contacted[k - 1]), float(self.profit[k - 1])) if k else (0, 0.0)

    def best(self) -> tuple[float, int, float]:
        """(threshold, customers contacted, total profit) where the profit is highest (contacting nobody
        is a choice: threshold above 1)."""
        i = int(np.argmax(self.profit))
        if self.profit[i] <= 0:
            return float("inf"), 0, 0.0
        return float(self.thresholds[i]), int(self.contacted[i]), float(self.profit[i])

    def points(self, count: int = CURVE_POINTS) -> list[dict[str, float]]:
        """The curve at evenly spaced shares contacted (the profit of the last threshold within each)."""
        shares = np.linspace(0, 1, count)
        contacted = np.concatenate([[0], self.contacted])
        profit = np.concatenate([[0.0], self.profit])
        idx = np.searchsorted(contacted, shares * self.n, side="right") - 1
        return [
            {"share": float(s), "profit_per_customer": float(profit[i] / max(self.n, 1))}
            for s, i in zip(shares, idx, strict=True)
        ]


def profit_curve(y: np.ndarray, proba: np.ndarray, values: np.ndarray, campaign: Campaign) -> ProfitCurve:
    proba = np.asarray(proba, dtype=float)
    order = np.argsort(-proba, kind="stable")
    gains = np.cumsum(campaign.outcome(np.asarray(y)[order], np.asarray(values, dtype=float)[order]))
    sorted_p = proba[order]
    last = np.flatnonzero(np.r_[sorted_p[1:] != sorted_p[:-1], True])  # the last row of each tie
    return ProfitCurve(sorted_p[last], last + 1, gains[last], len(proba))


@functools.cache
def _metrics() -> dict[str, Any]:
    """empulse metrics for this cost matrix: the empirical maximum profit with per-customer values,
    and the expected maximum profit over a Beta acceptance rate."""
    import sympy
    from empulse.metrics import CostMatrix, EmpiricalMaxProfit, MaxProfit, Metric

    v, d, f, gamma, a, b = sympy.symbols("v d f gamma alpha beta")

    def matrix(rate: Any) -> Any:
        return (
            CostMatrix()
            .add_tp_benefit(rate * (v - d - f))  # a churner who takes the offer stays
            .add_tp_benefit((1 - rate) * -f)  # one who does not leaves all the same
            .add_fp_cost(d + f)  # a customer who would have stayed takes the offer
            .alias({"customer_value": "v", "incentive_cost": "d", "contact_cost": "f"})
        )

    return {
        "max_profit": Metric(matrix(gamma).alias({"acceptance_rate": "gamma"}), EmpiricalMaxProfit()),
        "emp": Metric(matrix(sympy.stats.Beta("gamma", a, b)), MaxProfit()),
    }


def max_profit(y: np.ndarray, proba: np.ndarray, values: np.ndarray, campaign: Campaign) -> dict[str, float]:
    """empulse's maximum profit per customer at the best threshold, with that threshold and share."""
    metric = _metrics()["max_profit"]
    args = {
        "customer_value": np.asarray(values, dtype=float),
        "incentive_cost": campaign.incentive_cost,
        "contact_cost": campaign.contact_cost,
        "acceptance_rate": campaign.acceptance,
    }
    y, proba = np.asarray(y).astype(int), np.asarray(proba, dtype=float)
    return {
        "profit_per_customer": float(metric(y, proba, **args)),
        "threshold": float(metric.optimal_threshold(y, proba, **args)),
        "share": float(metric.optimal_rate(y, proba, **args)),
    }


def expected_max_profit(
    y: np.ndarray, proba: np.ndarray, values: np.ndarray, campaign: Campaign
) -> dict[str, float] | None:
    """The EMP (Verbraken et al., 2013) per customer and its share contacted, integrating over the Beta
    acceptance rate with the mean customer value (as the measure is defined); None without a Beta rate."""
    if campaign.acceptance_beta is None:
        return None
    metric = _metrics()["emp"]
    alpha, beta = campaign.acceptance_beta
    args = {
        "customer_value": float(np.mean(values)),
        "incentive_cost": campaign.incentive_cost,
        "contact_cost": campaign.contact_cost,
        "alpha": alpha,
        "beta": beta,
    }
    y, proba = np.asarray(y).astype(int), np.asarray(proba, dtype=float)
    return {"emp_per_customer": float(metric(y, proba, **args)), "share": float(metric.optimal_rate(y, proba, **args))}


@dataclass
class ValueReport:
    """The money of a model on labelled rows: at its threshold, at the best one, and as a curve."""

    campaign: dict[str, Any]
    n_rows: int
    threshold: float
    contacted: int
    profit: float  # total, at the model's threshold
    best_threshold: float | None
    best_contacted: int
    best_profit: float
    everyone_profit: float  # contacting every customer
    perfect_profit: float  # contacting exactly the churners
    emp: dict[str, float] | None
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        n = max(self.n_rows, 1)
        return {
            "campaign": self.campaign,
            "n_rows": self.n_rows,
            "at_threshold": {
                "threshold": self.threshold,
                "contacted": self.contacted,
                "share": self.contacted / n,
                "profit": self.profit,
                "profit_per_customer": self.profit / n,
            },
            "best": {
                "threshold": self.best_threshold,
                "contacted": self.best_contacted,
                "share": self.best_contacted / n,
                "profit": self.best_profit,
                "profit_per_customer": self.best_profit / n,
            },
            "contact_everyone_profit": self.everyone_profit,
            "perfect_model_profit": self.perfect_profit,
            "emp": self.emp,
            "curve": self.curve,
        }


def value_report(
    y: np.ndarray, proba: np.ndarray, values: np.ndarray, campaign: Campaign, threshold: float
) -> ValueReport:
    y = np.asarray(y).astype(int)
    curve = profit_curve(y, proba, values, campaign)
    contacted, profit = curve.at(threshold)
    best = max_profit(y, proba, values, campaign)
    best_contacted, best_profit = curve.at(best["threshold"]) if best["profit_per_customer"] > 0 else (0, 0.0)
    outcomes = campaign.outcome(y, values)
    return ValueReport(
        campaign=campaign.to_dict(),
        n_rows=len(y),
        threshold=threshold,
        contacted=contacted,
        profit=profit,
        best_threshold=best["threshold"] if best_contacted else None,
        best_contacted=best_contacted,
        best_profit=best_profit,
        everyone_profit=float(outcomes.sum()),
        perfect_profit=float(np.clip(outcomes, 0, None)[y == 1].sum()),
        emp=expected_max_profit(y, proba, values, campaign),
        curve=curve.points(),
    )


def paired_profit_pvalue(
    y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, resamples: int, seed: int
) -> float | None:
    """One-sided p-value that the challenger's profit is not higher than the champion's on the same
    rows, from each row's profit under either (0 where it is not contacted): the share of paired
    bootstrap resamples (stratified by class, as for ROC-AUC) in which the challenger's total is not
    higher, with the usual +1 correction."""
    if resamples <= 0:
        return None
    rng = np.random.default_rng(seed)
    difference = np.asarray(challenger, dtype=float) - np.asarray(champion, dtype=float)
    positives, negatives = np.flatnonzero(np.asarray(y) == 1), np.flatnonzero(np.asarray(y) == 0)
    not_better = 0
    for _ in range(resamples):
        total = difference[rng.choice(positives, len(positives))].sum() if len(positives) else 0.0
        total += difference[rng.choice(negatives, len(negatives))].sum() if len(negatives) else 0.0
        not_better += int(total <= 1e-9 * max(1.0, float(np.abs(difference).sum())))
    return (not_better + 1) / (resamples + 1)
