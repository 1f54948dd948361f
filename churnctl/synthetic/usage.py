"""Telecom usage records: the shape of the public telecom churn file with a 50-state column.

Columns: State (51 values, the US states and DC), Account length, Area code (408/415/510),
International plan and Voice mail plan (yes/no), Number vmail messages, minutes, calls and charge
for day, evening, night and international use (charge = minutes × a fixed rate), Customer service
calls and Churn (True/False). Usage is roughly normal; calls to customer service are Poisson.

Churn mechanism (about 14 % churn), threshold effects that a linear model cannot follow::

    logit = -3.0 + 4.0·σ((total charge - 72) / 1.5)                    (a high bill)
            + 2.8·[service calls ≥ 4]·(1 - σ((day minutes - 200) / 10))   (unresolved complaints)
            + International plan·(1.3 + 2.6·[intl minutes > 13] + 2.4·[intl calls < 3])
            - 1.0·Voice mail plan + state effect (fixed per state, between -0.5 and 0.5)

where σ is the logistic function and the total charge sums the four charges. Concept drift blends
in an alternative mechanism driven by short accounts, area code 510 and night use:
``-2.4 - 0.012·(Account length - 100) + 1.0·[Area code 510] + 0.012·(night minutes - 200)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnctl.synthetic.core import Categorical, Profile

STATES = (
    *("AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN", "KS"),
    *("KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV"),
    *("NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY"),
)
_I = np.arange(len(STATES))
STATE_SHARE = (1.0 + 0.35 * np.cos(1.3 * _I)) / (1.0 + 0.35 * np.cos(1.3 * _I)).sum()
STATE_EFFECT = dict(zip(STATES, 0.5 * np.sin(3.7 * _I), strict=True))
RATES = {"day": 0.17, "eve": 0.085, "night": 0.045, "intl": 0.27}  # charge per minute
BASE_MIX = {
    "State": dict(zip(STATES, STATE_SHARE.tolist(), strict=True)),
    "Area code": {"415": 0.50, "408": 0.25, "510": 0.25},
    "International plan": {"no": 0.903, "yes": 0.097},
    "Voice mail plan": {"no": 0.723, "yes": 0.277},
}
NUMERIC = (
    "Account length",
    "Total day minutes",
    "Total eve minutes",
    "Total night minutes",
    "Total intl minutes",
    "Customer service calls",
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def draw(rows: int, rng: np.random.Generator, categorical: Categorical, id_start: int) -> pd.DataFrame:
    state = categorical("State")
    area = categorical("Area code").astype(int)
    international = categorical("International plan")
    voice_mail = categorical("Voice mail plan")
    messages = np.where(voice_mail == "yes", np.clip(np.round(rng.normal(29, 7.5, rows)), 1, 51), 0)
    columns: dict[str, np.ndarray] = {
        "State": state,
        "Account length": np.clip(np.round(rng.normal(101, 40, rows)), 1, 243),
        "Area code": area,
        "International plan": international,
        "Voice mail plan": voice_mail,
        "Number vmail messages": messages.astype(int),
    }
    for period, (mean, sd, calls) in {
        "day": (180, 54, 100),
        "eve": (201, 51, 100),
        "night": (201, 51, 100),
        "intl": (10.2, 2.8, 0),
    }.items():
        columns[f"Total {period} minutes"] = np.round(np.clip(rng.normal(mean, sd, rows), 0, None), 1)
        counts = rng.poisson(4.5, rows) if period == "intl" else np.round(np.clip(rng.normal(calls, 20, rows), 0, 165))
        columns[f"Total {period} calls"] = counts.astype(int)
        columns[f"Total {period} charge"] = np.zeros(rows)
    columns["Customer service calls"] = rng.poisson(1.56, rows).astype(float)
    return pd.DataFrame(columns)


def derive(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Charges follow minutes at fixed rates (also after minutes are shifted); no negative use."""
    for period, rate in RATES.items():
        minutes = frame[f"Total {period} minutes"].clip(lower=0).round(1)
        frame[f"Total {period} minutes"] = minutes
        frame[f"Total {period} charge"] = (minutes * rate).round(2)
    frame["Account length"] = frame["Account length"].clip(lower=1)
    frame["Customer service calls"] = frame["Customer service calls"].clip(lower=0)


def churn_logit(frame: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    def col(name: str) -> np.ndarray:
        return frame[name].to_numpy(float)

    total = np.sum([col(f"Total {period} charge") for period in RATES], axis=0)
    international = (frame["International plan"] == "yes").to_numpy(float)
    state = frame["State"].map(STATE_EFFECT).fillna(0.0).to_numpy(float)
    base = (
        -3.0
        + 4.0 * _sigmoid((total - 72) / 1.5)
        + 2.8 * (col("Customer service calls") >= 4) * (1 - _sigmoid((col("Total day minutes") - 200) / 10))
        + international * (1.3 + 2.6 * (col("Total intl minutes") > 13) + 2.4 * (col("Total intl calls") < 3))
        - 1.0 * (frame["Voice mail plan"] == "yes").to_numpy(float)
        + state
    )
    if concept == 0.0:
        return base
    alternative = (
        -2.4
        - 0.012 * (col("Account length") - 100)
        + 1.0 * (frame["Area code"].astype(str) == "510").to_numpy(float)
        + 0.012 * (col("Total night minutes") - 200)
    )
    return (1.0 - concept) * base + concept * alternative


PROFILE = Profile(
    name="usage",
    summary="telecom usage records (a 51-value State column, minutes/calls/charges; target Churn True/False)",
    target="Churn",
    labels=(False, True),
    numeric=NUMERIC,
    integer=("Account length", "Customer service calls"),
    mixes=BASE_MIX,
    features=(
        "State",
        "Account length",
        "Area code",
        "International plan",
        "Voice mail plan",
        "Number vmail messages",
        *(f"Total {p} {m}" for p in RATES for m in ("minutes", "calls", "charge")),
        "Customer service calls",
    ),
    open_categories=("State", "International plan", "Voice mail plan"),
    draw=draw,
    logit=churn_logit,
    derive=derive,
)
