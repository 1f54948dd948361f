"""Threshold policies (``[train] threshold``): where a churn probability becomes "contact this customer".

* ``f1`` (the default), ``youden`` or a probability: as :mod:`churnctl.model.threshold` chooses;
* ``profit``: the threshold of the highest expected profit (``[value]`` settings, empulse's maximum);
* ``top:SHARE``: contact that share of customers (``top:0.1``: the 10 % most likely to churn);
* ``budget:AMOUNT``: contact as many as AMOUNT pays for, in expected cost (contact, plus the incentive
  when taken), on a customer base as large as the dataset's.

Each is applied to the calibrated out-of-fold predictions of the training split, never the test split;
what it chose, and what that is worth there, is stored with the threshold in the signed manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from churnctl.config import Policy
from churnctl.errors import UsageError
from churnctl.model.threshold import choose_threshold
from churnctl.value.campaign import Campaign
from churnctl.value.profit import max_profit, profit_curve


@dataclass
class Chosen:
    threshold: float
    figures: dict[str, Any]  # the policy, the share it flags and, with a campaign, its profit
    warnings: list[str]


def choose(
    policy: Policy,
    y: np.ndarray,
    proba: np.ndarray,
    *,
    campaign: Campaign | None = None,
    values: np.ndarray | None = None,
    base_rows: int | None = None,
) -> Chosen:
    """The threshold ``policy`` gives on out-of-fold labels ``y`` and calibrated probabilities ``proba``
    (``values``: those customers' values; ``base_rows``: the customer base a budget is spent on)."""
    y, proba = np.asarray(y).astype(int), np.asarray(proba, dtype=float)
    warnings: list[str] = []
    if policy.needs_value and (campaign is None or values is None):
        raise UsageError(
            f"threshold policy {policy} needs the value of a customer and the cost of a contact",
            hint="set [value] customer_value (or customer_value_column), contact_cost and incentive_cost",
        )
    if policy.kind in ("f1", "youden"):
        threshold = choose_threshold(y, proba, policy.kind)
    elif policy.kind == "fixed":
        threshold = float(policy.amount or 0.5)
    elif policy.kind == "top":
        k = max(1, math.ceil(float(policy.amount or 0) * len(proba)))
        threshold = float(np.sort(proba)[::-1][k - 1])
    elif policy.kind == "profit":
        assert campaign is not None and values is not None
        best = max_profit(y, proba, values, campaign)
        threshold = best["threshold"]
        if best["profit_per_customer"] <= 0 or not 0 < threshold <= 1:
            threshold = 1.0
            warnings.append("no threshold makes the campaign pay on the training rows: nobody is flagged below 1.0")
    else:  # budget
        assert campaign is not None and values is not None
        threshold = _budget_threshold(proba, campaign, float(policy.amount or 0), base_rows or len(proba))
    figures = {"policy": str(policy), "share_flagged": float(np.mean(proba >= threshold)) if len(proba) else 0.0}
    if campaign is not None and values is not None:
        curve = profit_curve(y, proba, values, campaign)
        _, profit = curve.at(threshold)
        figures["profit_per_customer"] = profit / max(len(y), 1)
        figures["campaign"] = campaign.to_dict()
        if policy.kind == "budget":
            spent = float(campaign.expected_cost(proba[proba >= threshold]).sum()) * (base_rows or len(y)) / len(y)
            figures.update({"budget": policy.amount, "base_rows": base_rows, "expected_spend": spent})
    figures["rows"] = len(y)
    return Chosen(float(threshold), figures, warnings)


def _budget_threshold(proba: np.ndarray, campaign: Campaign, budget: float, base_rows: int) -> float:
    """The lowest threshold whose customers' expected cost, scaled to a base of ``base_rows``, fits the
    budget (contacting from the highest probability down)."""
    order = np.argsort(-proba, kind="stable")
    spend = np.cumsum(campaign.expected_cost(proba[order])) * base_rows / len(proba)
    affordable = int(np.searchsorted(spend, budget, side="right"))
    if affordable == 0:
        return 1.0
    sorted_p = proba[order]
    t = float(sorted_p[affordable - 1])
    if affordable < len(sorted_p) and sorted_p[affordable] == t:  # a tie across the limit: stay within it
        above = sorted_p[sorted_p > t]
        return float(above.min()) if len(above) else 1.0
    return t
