"""What every simulated profile shares: controllable drift and the order in which a file is drawn.

A :class:`Profile` draws the feature columns of one kind of churn file and defines its churn
mechanism. :func:`generate` draws the features (category mixes as the drift asks), applies
covariate drift (shifted numeric columns), recomputes the columns that follow from others, draws
the labels from the mechanism — so P(churn | customer) is unchanged by covariate drift — and last
injects new categories and missing values, as they would appear in a feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnctl.errors import UsageError

Categorical = Callable[[str], np.ndarray]  # column -> values drawn from its (possibly drifted) mix


@dataclass(frozen=True)
class Profile:
    """One kind of churn file: its columns, how they are drawn, and its churn mechanism."""

    name: str
    summary: str
    target: str
    labels: tuple[Any, Any]  # the target's stored value for (stays, churns)
    numeric: tuple[str, ...]  # columns --shift may move
    integer: tuple[str, ...]  # numeric columns rounded after a shift
    mixes: Mapping[str, Mapping[str, float]]  # categorical columns with a base mix (--mix)
    features: tuple[str, ...]  # feature columns (--missing)
    open_categories: tuple[str, ...]  # columns --new-category may extend
    draw: Callable[[int, np.random.Generator, Categorical, int], pd.DataFrame]
    logit: Callable[[pd.DataFrame, float], np.ndarray]  # (frame, concept) -> churn log-odds
    # Recompute, in place, the columns that follow from others (after covariate drift moved them).
    derive: Callable[[pd.DataFrame, np.random.Generator], None] = lambda frame, rng: None


@dataclass(frozen=True)
class Drift:
    """Controllable departures from the reference population."""

    shift: dict[str, float] = field(default_factory=dict)  # column -> added amount (raw units)
    shift_sd: dict[str, float] = field(default_factory=dict)  # column -> added standard deviations
    mix: dict[str, dict[str, float]] = field(default_factory=dict)  # column -> {category: share}
    new_category: dict[str, tuple[str, float]] = field(default_factory=dict)  # column -> (value, share)
    missing: dict[str, float] = field(default_factory=dict)  # column -> share of rows blanked
    concept: float = 0.0  # 0: documented mechanism, 1: the profile's alternative mechanism


def _split(spec: str, option: str) -> tuple[str, str]:
    if "=" not in spec:
        raise UsageError(f"{option} {spec!r} is not of the form COLUMN=VALUE")
    column, value = (p.strip() for p in spec.split("=", 1))
    return column, value


MAX_SHIFT = 1e9  # raw units: integer columns stay exact, the churn mechanism stays finite
MAX_SHIFT_SD = 1e4


def _number(text: str, option: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option} {spec!r}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise UsageError(f"{option} {spec!r}: {text!r} is not a finite number")
    return value


def _share(text: str, option: str, spec: str) -> float:
    value = _number(text, option, spec)
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{option} {spec!r}: a share must be between 0 and 1, found {value}")
    return value


def _column_of(spec: str, option: str, column: str, allowed: Iterable[str], what: str, profile: Profile) -> None:
    """The usage error naming the profile's choices, unless ``column`` is one of ``allowed``
    (``what``: how one of them is called, e.g. "numeric column")."""
    choices = list(allowed)
    if column not in choices:
        raise UsageError(
            f"{option} {spec!r}: {column!r} is not a {what} of the {profile.name} profile",
            hint=f"{what}s: {', '.join(choices)}",
        )


def parse_drift(
    profile: Profile,
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
        _column_of(spec, "--shift", column, profile.numeric, "numeric column", profile)
        sd = value.lower().endswith("sd")
        amount = _number(value[:-2] if sd else value, "--shift", spec)
        limit = MAX_SHIFT_SD if sd else MAX_SHIFT
        if abs(amount) > limit:
            raise UsageError(
                f"--shift {spec!r}: a shift beyond ±{limit:g}{' sd' if sd else ''} makes the column's values "
                "overflow (and no customer file looks like that)",
                hint="use a shift within that range",
            )
        (drift.shift_sd if sd else drift.shift)[column] = amount
    for spec in mix:
        column, value = _split(spec, "--mix")
        _column_of(spec, "--mix", column, profile.mixes, "column with a category mix", profile)
        shares = {}
        for part in value.split(","):
            category, _, share = part.partition(":")
            if category.strip() not in profile.mixes[column]:
                raise UsageError(
                    f"--mix {spec!r}: {category.strip()!r} is not a category of {column}",
                    hint=f"categories: {', '.join(profile.mixes[column])}; use --new-category for new ones",
                )
            if category.strip() in shares:
                raise UsageError(f"--mix {spec!r}: {category.strip()!r} is given twice", hint="give each category once")
            shares[category.strip()] = _share(share, "--mix", spec)
        total = sum(shares.values())
        if total > 1.0 + 1e-9:
            raise UsageError(f"--mix {spec!r}: shares add up to more than 1")
        if set(shares) == set(profile.mixes[column]) and abs(total - 1.0) > 1e-9:
            raise UsageError(
                f"--mix {spec!r}: the shares name every category of {column}, so they must add up to 1, found {total:g}"
            )
        drift.mix[column] = shares
    for spec in new_category:
        column, value = _split(spec, "--new-category")
        category, _, share = value.rpartition(":")
        if column not in profile.open_categories or not category:
            raise UsageError(
                f"--new-category {spec!r}: expected COLUMN=NAME:SHARE",
                hint=f"columns of the {profile.name} profile: {', '.join(profile.open_categories)}",
            )
        drift.new_category[column] = (category, _share(share, "--new-category", spec))
    for spec in missing:
        column, value = _split(spec, "--missing")
        _column_of(spec, "--missing", column, profile.features, "feature column", profile)
        drift.missing[column] = _share(value, "--missing", spec)
    return drift


def mix_probabilities(base: Mapping[str, float], wanted: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    """Category shares: the ``wanted`` ones as given, the rest of the base mix scaled to fill up."""
    rest = [c for c in base if c not in wanted]
    left = 1.0 - sum(wanted.values())
    rest_total = sum(base[c] for c in rest)
    probs = {c: wanted.get(c, base[c] * left / rest_total if rest_total else 0.0) for c in base}
    names = list(probs)
    p = np.array([probs[c] for c in names])
    return names, p / p.sum()


def generate(profile: Profile, rows: int, seed: int, drift: Drift, id_start: int) -> pd.DataFrame:
    """``rows`` simulated customers of ``profile``; the same arguments always give the same frame."""
    if rows < 1:
        raise UsageError(f"--rows must be at least 1, found {rows}")
    if drift.shift_sd and rows < 2:
        raise UsageError(
            "--shift COLUMN=Nsd measures the column's standard deviation, which takes at least 2 rows",
            hint="simulate more rows, or shift by an amount (--shift COLUMN=N)",
        )
    rng = np.random.default_rng(seed)

    def categorical(column: str) -> np.ndarray:
        names, p = mix_probabilities(profile.mixes[column], drift.mix.get(column, {}))
        return np.asarray(names, dtype=object)[rng.choice(len(names), size=rows, p=p)]

    frame = profile.draw(rows, rng, categorical, id_start)
    for column, amount in drift.shift.items():
        frame[column] = frame[column] + amount
    for column, sds in drift.shift_sd.items():
        frame[column] = frame[column] + sds * frame[column].std(ddof=1)
    for column in profile.integer:
        frame[column] = frame[column].round().astype(int)
    profile.derive(frame, rng)
    logit = profile.logit(frame, drift.concept)
    with np.errstate(over="ignore"):  # exp(-logit) beyond the largest float is inf: probability 0
        churned = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    stays, churns = profile.labels
    frame[profile.target] = np.where(churned, churns, stays)

    for column, (value, share) in drift.new_category.items():
        chosen = rng.random(rows) < share
        frame[column] = frame[column].astype(object)
        frame.loc[chosen, column] = value
    for column, share in drift.missing.items():
        blank = rng.random(rows) < share
        frame[column] = frame[column].astype(object if frame[column].dtype == object else float)
        frame.loc[blank, column] = np.nan
    return frame
