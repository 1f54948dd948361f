"""Synthetic bank customers with a known churn mechanism and controllable drift.

The columns are those of the public bank-churn data set (CustomerId, CreditScore, Geography,
Gender, Age, Tenure, Balance, NumOfProducts, HasCrCard, IsActiveMember, EstimatedSalary, Exited)
and the marginals follow it: France/Germany/Spain 50/25/25 %, 45 % women, a right-skewed age
around 39, credit scores around 650, about a third zero balances (none in Germany), mostly one or
two products, uniform salaries.

Churn mechanism (``Exited`` ~ Bernoulli(sigmoid(logit))), chosen to reproduce the real data's
patterns — about 20 % churn, higher for Germany, women, customers aged 45–65 and inactive
members, very high for 3–4 products and low for 2 products::

    logit = -1.35 + 0.85·Germany + 0.45·Female + 0.15·(Age-40) - 0.011·max(Age-50, 0)²
            - 1.0·IsActiveMember + {1: 0, 2: -1.55, 3: 2.4, 4: 5.0}[NumOfProducts]
            + 0.35·(Balance > 0) - 0.0012·(CreditScore - 650)

Concept drift (``concept`` = c in [0, 1]) blends this with an alternative mechanism in which
churn is driven by short tenure, high salary, Spain and — reversed — active membership::

    logit_alt = -2.75 + 1.1·Spain - 0.3·(Tenure-5) + 1.2·(EstimatedSalary > 150000)
                + 0.9·IsActiveMember + 0.02·(Age-40)
    logit_c = (1 - c)·logit + c·logit_alt

Covariate drift (shifted numeric columns, changed category mixes) is applied before the labels
are drawn, so P(churn | customer) is unchanged; new categories and missing values are injected
after, as they would appear in a feed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.errors import UsageError

NUMERIC = ("CreditScore", "Age", "Tenure", "Balance", "EstimatedSalary")
INTEGER = ("CreditScore", "Age", "Tenure")
BASE_MIX = {
    "Geography": {"France": 0.50, "Germany": 0.25, "Spain": 0.25},
    "Gender": {"Male": 0.545, "Female": 0.455},
    "HasCrCard": {"1": 0.706, "0": 0.294},
    "IsActiveMember": {"1": 0.515, "0": 0.485},
}
FEATURES = (
    "CreditScore",
    "Geography",
    "Gender",
    "Age",
    "Tenure",
    "Balance",
    "NumOfProducts",
    "HasCrCard",
    "IsActiveMember",
    "EstimatedSalary",
)
PRODUCT_EFFECT = np.array([0.0, 0.0, -1.55, 2.4, 5.0])  # indexed by NumOfProducts


@dataclass(frozen=True)
class Drift:
    """Controllable departures from the reference population."""

    shift: dict[str, float] = field(default_factory=dict)  # column -> added amount (raw units)
    shift_sd: dict[str, float] = field(default_factory=dict)  # column -> added standard deviations
    mix: dict[str, dict[str, float]] = field(default_factory=dict)  # column -> {category: share}
    new_category: dict[str, tuple[str, float]] = field(default_factory=dict)  # column -> (value, share)
    missing: dict[str, float] = field(default_factory=dict)  # column -> share of rows blanked
    concept: float = 0.0  # 0: documented mechanism, 1: the alternative mechanism


def _split(spec: str, option: str) -> tuple[str, str]:
    if "=" not in spec:
        raise UsageError(f"{option} {spec!r} is not of the form COLUMN=VALUE")
    column, value = (p.strip() for p in spec.split("=", 1))
    return column, value


def _number(text: str, option: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{option} {spec!r}: {text!r} is not a number") from None


def _share(text: str, option: str, spec: str) -> float:
    value = _number(text, option, spec)
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{option} {spec!r}: a share must be between 0 and 1, found {value}")
    return value


def parse_drift(
    shift: Iterable[str] = (),
    mix: Iterable[str] = (),
    new_category: Iterable[str] = (),
    missing: Iterable[str] = (),
    concept: float = 0.0,
) -> Drift:
    """Build a :class:`Drift` from CLI specs such as ``Age=+5``, ``Age=0.25sd``,
    ``Geography=Germany:0.45``, ``Geography=Italy:0.05`` and ``Balance=0.1``."""
    drift = Drift(concept=concept)
    if not 0.0 <= concept <= 1.0:
        raise UsageError(f"--concept-drift must be between 0 and 1, found {concept}")
    for spec in shift:
        column, value = _split(spec, "--shift")
        if column not in NUMERIC:
            raise UsageError(
                f"--shift {spec!r}: {column!r} is not a numeric column", hint=f"numeric columns: {', '.join(NUMERIC)}"
            )
        if value.lower().endswith("sd"):
            drift.shift_sd[column] = _number(value[:-2], "--shift", spec)
        else:
            drift.shift[column] = _number(value, "--shift", spec)
    for spec in mix:
        column, value = _split(spec, "--mix")
        if column not in BASE_MIX:
            raise UsageError(
                f"--mix {spec!r}: {column!r} has no category mix to change",
                hint=f"columns with a mix: {', '.join(BASE_MIX)}",
            )
        shares = {}
        for part in value.split(","):
            category, _, share = part.partition(":")
            if category.strip() not in BASE_MIX[column]:
                raise UsageError(
                    f"--mix {spec!r}: {category.strip()!r} is not a category of {column}",
                    hint=f"categories: {', '.join(BASE_MIX[column])}; use --new-category for new ones",
                )
            shares[category.strip()] = _share(share, "--mix", spec)
        if sum(shares.values()) > 1.0 + 1e-9:
            raise UsageError(f"--mix {spec!r}: shares add up to more than 1")
        drift.mix[column] = shares
    for spec in new_category:
        column, value = _split(spec, "--new-category")
        category, _, share = value.rpartition(":")
        if column not in ("Geography", "Gender") or not category:
            raise UsageError(f"--new-category {spec!r}: expected Geography=NAME:SHARE or Gender=NAME:SHARE")
        drift.new_category[column] = (category, _share(share, "--new-category", spec))
    for spec in missing:
        column, value = _split(spec, "--missing")
        if column not in FEATURES:
            raise UsageError(
                f"--missing {spec!r}: {column!r} is not a feature column", hint=f"features: {', '.join(FEATURES)}"
            )
        drift.missing[column] = _share(value, "--missing", spec)
    return drift


def _mix_probabilities(column: str, drift: Drift) -> tuple[list[str], np.ndarray]:
    base = dict(BASE_MIX[column])
    wanted = drift.mix.get(column, {})
    rest = [c for c in base if c not in wanted]
    left = 1.0 - sum(wanted.values())
    rest_total = sum(base[c] for c in rest)
    probs = {c: wanted.get(c, base[c] * left / rest_total if rest_total else 0.0) for c in base}
    names = list(probs)
    p = np.array([probs[c] for c in names])
    return names, p / p.sum()


def churn_logit(frame: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    """The documented churn mechanism on a frame with the simulated columns."""
    age = frame["Age"].to_numpy(float)
    active = frame["IsActiveMember"].to_numpy(float)
    base = (
        -1.35
        + 0.85 * (frame["Geography"] == "Germany").to_numpy()
        + 0.45 * (frame["Gender"] == "Female").to_numpy()
        + 0.15 * (age - 40)
        - 0.011 * np.maximum(age - 50, 0) ** 2
        - 1.0 * active
        + PRODUCT_EFFECT[frame["NumOfProducts"].to_numpy(int)]
        + 0.35 * (frame["Balance"].to_numpy(float) > 0)
        - 0.0012 * (frame["CreditScore"].to_numpy(float) - 650)
    )
    if concept == 0.0:
        return base
    alternative = (
        -2.75
        + 1.1 * (frame["Geography"] == "Spain").to_numpy()
        - 0.3 * (frame["Tenure"].to_numpy(float) - 5)
        + 1.2 * (frame["EstimatedSalary"].to_numpy(float) > 150_000)
        + 0.9 * active
        + 0.02 * (age - 40)
    )
    return (1.0 - concept) * base + concept * alternative


def simulate_customers(
    rows: int, seed: int = 0, drift: Drift | None = None, id_start: int = 15_000_000
) -> pd.DataFrame:
    """``rows`` synthetic customers; the same arguments always give the same frame."""
    if rows < 1:
        raise UsageError(f"--rows must be at least 1, found {rows}")
    drift = drift or Drift()
    rng = np.random.default_rng(seed)

    def categorical(column: str) -> np.ndarray:
        names, p = _mix_probabilities(column, drift)
        return np.asarray(names, dtype=object)[rng.choice(len(names), size=rows, p=p)]

    geography = categorical("Geography")
    gender = categorical("Gender")
    age = np.clip(np.round(18 + rng.gamma(4.2, 5.0, rows)), 18, 92)
    credit = np.clip(np.round(rng.normal(650, 96, rows)), 350, 850)
    tenure_p = np.r_[0.041, np.full(9, 0.91 / 9), 0.049]
    tenure = rng.choice(11, size=rows, p=tenure_p / tenure_p.sum()).astype(float)
    zero_balance = rng.random(rows) < np.where(geography == "Germany", 0.0, 0.48)
    balance = np.where(zero_balance, 0.0, np.round(np.clip(rng.normal(119_800, 30_000, rows), 3_000, 251_000), 2))
    products_p = np.where(zero_balance[:, None], [[0.30, 0.67, 0.025, 0.005]], [[0.62, 0.34, 0.03, 0.01]])
    products = 1 + (rng.random(rows)[:, None] > np.cumsum(products_p, axis=1)).sum(axis=1)
    frame = pd.DataFrame(
        {
            "CustomerId": id_start + rng.permutation(rows),
            "CreditScore": credit,
            "Geography": geography,
            "Gender": gender,
            "Age": age,
            "Tenure": tenure,
            "Balance": balance,
            "NumOfProducts": np.minimum(products, 4),
            "HasCrCard": categorical("HasCrCard").astype(int),
            "IsActiveMember": categorical("IsActiveMember").astype(int),
            "EstimatedSalary": np.round(rng.uniform(11.58, 199_992.48, rows), 2),
        }
    )
    for column, amount in drift.shift.items():
        frame[column] = frame[column] + amount
    for column, sds in drift.shift_sd.items():
        frame[column] = frame[column] + sds * frame[column].std(ddof=1)
    for column in INTEGER:
        frame[column] = frame[column].round().astype(int)
    logit = churn_logit(frame, drift.concept)
    frame["Exited"] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    for column, (value, share) in drift.new_category.items():
        chosen = rng.random(rows) < share
        frame.loc[chosen, column] = value
    for column, share in drift.missing.items():
        blank = rng.random(rows) < share
        frame[column] = frame[column].astype(object if frame[column].dtype == object else float)
        frame.loc[blank, column] = np.nan
    return frame
