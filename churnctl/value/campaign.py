"""A retention campaign's economics, from ``[value]`` settings (Verbraken et al., 2013).

A contacted customer who would have churned stays with probability γ (the acceptance rate) and is
then worth the customer value v, less the incentive d; contacting costs f either way. A contacted
customer who would have stayed takes the incentive (as the measure assumes) and costs d + f. So,
against doing nothing:

* contacting a churner is worth ``benefit = γ (v − d) − f``,
* contacting a stayer costs ``cost = d + f``,
* contacting a customer of churn probability p is worth ``p · benefit − (1 − p) · cost``
  (the expected net value that ranks the campaign list), and costs
  ``f + d · (p γ + 1 − p)`` in expectation (what a budget pays for).

The customer value is one number for everyone (``customer_value``) or each customer's, from a column
(``customer_value_column`` times ``value_horizon``: a monthly charge over 12 months). With a Beta
acceptance rate the figures at one rate use its mean; the expected maximum profit integrates over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from churnctl.config import ValueSettings
from churnctl.errors import DataError


@dataclass(frozen=True)
class Campaign:
    customer_value: float | None  # one value for every customer, or ...
    value_column: str | None  # ... each customer's, from this column ...
    horizon: float  # ... times this
    contact_cost: float
    incentive_cost: float
    acceptance: float  # the acceptance rate (the mean of a Beta one)
    acceptance_beta: tuple[float, float] | None = None  # (alpha, beta) when it is a distribution

    @classmethod
    def from_settings(cls, settings: ValueSettings) -> Campaign | None:
        """The campaign of ``[value]``; None when no customer value is set (no money reported)."""
        if not settings.enabled:
            return None
        rate = settings.acceptance_rate
        beta = (float(rate["alpha"]), float(rate["beta"])) if isinstance(rate, dict) else None
        return cls(
            customer_value=settings.customer_value,
            value_column=settings.customer_value_column,
            horizon=settings.value_horizon,
            contact_cost=settings.contact_cost,
            incentive_cost=settings.incentive_cost,
            acceptance=beta[0] / (beta[0] + beta[1]) if beta else float(rate),  # type: ignore[arg-type]
            acceptance_beta=beta,
        )

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Campaign:
        beta = stored.get("acceptance_beta")
        return cls(
            customer_value=stored.get("customer_value"),
            value_column=stored.get("customer_value_column"),
            horizon=float(stored.get("value_horizon", 1.0)),
            contact_cost=float(stored["contact_cost"]),
            incentive_cost=float(stored["incentive_cost"]),
            acceptance=float(stored["acceptance_rate"]),
            acceptance_beta=(float(beta[0]), float(beta[1])) if beta else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings as stored in a manifest and shown in JSON."""
        return {
            "customer_value": self.customer_value,
            "customer_value_column": self.value_column,
            "value_horizon": self.horizon,
            "contact_cost": self.contact_cost,
            "incentive_cost": self.incentive_cost,
            "acceptance_rate": self.acceptance,
            "acceptance_beta": list(self.acceptance_beta) if self.acceptance_beta else None,
        }

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of the data the customer values come from (none for one value)."""
        return (self.value_column,) if self.value_column else ()

    def describe(self) -> str:
        value = (
            f"{self.customer_value:,.2f} per customer retained"
            if self.customer_value is not None
            else f"{self.value_column}" + (f" × {self.horizon:g}" if self.horizon != 1 else "") + " per customer"
        )
        rate = (
            f"Beta({self.acceptance_beta[0]:g}, {self.acceptance_beta[1]:g}), mean {self.acceptance:.0%}"
            if self.acceptance_beta
            else f"{self.acceptance:.0%}"
        )
        return (
            f"value {value}; contact {self.contact_cost:,.2f}, incentive {self.incentive_cost:,.2f}; acceptance {rate}"
        )

    def values(self, frame: Any, source: str = "the data") -> np.ndarray:
        """Each row's customer value (a pandas frame's column times the horizon, or the one value)."""
        n = len(frame)
        if self.customer_value is not None:
            return np.full(n, self.customer_value)
        assert self.value_column is not None
        if self.value_column not in frame.columns:
            raise DataError(
                f"{source} has no column {self.value_column!r}, which [value] customer_value_column names",
                hint="give the column of each customer's value, or one customer_value for everyone",
            )
        import pandas as pd

        column = pd.to_numeric(frame[self.value_column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(column) | (column < 0)
        if bad.any():
            raise DataError(
                f"{source}: column {self.value_column!r} must hold a value of 0 or more in every row; "
                f"{int(bad.sum())} row(s) do not (first: row {int(np.flatnonzero(bad)[0]) + 1})",
                hint="fill the missing values, or give one customer_value for everyone",
            )
        return column * self.horizon

    def benefit(self, values: np.ndarray | float) -> np.ndarray:
        """What contacting a customer who would churn is worth, on average over acceptance."""
        return self.acceptance * (np.asarray(values, dtype=float) - self.incentive_cost) - self.contact_cost

    @property
    def cost(self) -> float:
        """What contacting a customer who would stay costs (the incentive is taken)."""
        return self.incentive_cost + self.contact_cost

    def net_value(self, proba: np.ndarray, values: np.ndarray | float) -> np.ndarray:
        """The expected net value of contacting each customer."""
        p = np.asarray(proba, dtype=float)
        return p * self.benefit(values) - (1.0 - p) * self.cost

    def outcome(self, y: np.ndarray, values: np.ndarray | float) -> np.ndarray:
        """What contacting each labelled customer was worth (expected over acceptance)."""
        return np.where(np.asarray(y) == 1, self.benefit(values), -self.cost)

    def expected_cost(self, proba: np.ndarray) -> np.ndarray:
        """What contacting each customer costs in expectation: the contact, and the incentive if taken."""
        p = np.asarray(proba, dtype=float)
        return self.contact_cost + self.incentive_cost * (p * self.acceptance + 1.0 - p)
