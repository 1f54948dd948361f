"""Synthetic churn data with a known churn mechanism and controllable drift.

Three profiles, each a module documenting its columns and mechanism: ``bank`` (the default; the
columns of the public bank-churn data), ``telco`` (many Yes/No service columns, a logarithmic
tenure effect) and ``usage`` (telecom usage with a 51-value State column and threshold effects).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from churnctl.errors import UsageError
from churnctl.synthetic import bank, telco, usage
from churnctl.synthetic.bank import churn_logit
from churnctl.synthetic.core import Drift, Profile, generate
from churnctl.synthetic.core import parse_drift as _parse_drift

PROFILES: dict[str, Profile] = {p.name: p for p in (bank.PROFILE, telco.PROFILE, usage.PROFILE)}

__all__ = ["PROFILES", "Drift", "Profile", "churn_logit", "parse_drift", "profile", "simulate_customers"]


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}", hint=f"choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def parse_drift(
    shift: Iterable[str] = (),
    mix: Iterable[str] = (),
    new_category: Iterable[str] = (),
    missing: Iterable[str] = (),
    concept: float = 0.0,
    profile_name: str = "bank",
) -> Drift:
    """:func:`churnctl.synthetic.core.parse_drift` for the named profile."""
    return _parse_drift(profile(profile_name), shift, mix, new_category, missing, concept)


def simulate_customers(
    rows: int, seed: int = 0, drift: Drift | None = None, id_start: int = 15_000_000, profile_name: str = "bank"
) -> pd.DataFrame:
    """``rows`` simulated customers of a profile; the same arguments always give the same frame."""
    return generate(profile(profile_name), rows, seed, drift or Drift(), id_start)
