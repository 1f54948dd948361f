"""The leak guard: columns that give the label away are excluded before any model sees them.

A churn table often carries what happened after the churn: a model's score computed from the label,
a "reason" filled only for churners, a cancellation date. Trained on, such a column makes a perfect
model that is worthless in production, and every number built on it (threshold, promotion gate,
drift reference) with it. So every feature's power *alone* is measured on the training split, as a
ROC-AUC in either direction: of its values (numbers), of a cross-fitted churn rate per category
(categories: each row's rate comes from the other folds, so a column of unique values cannot score
itself), and of "is missing" (every column with missing values). A feature at or above ``[data]
leak_auc`` is a suspected leak; so is one whose name speaks of the outcome (the target's own name
inside it, "reason", "churn score", a cancellation date). Both are excluded unless kept by name
(``--keep-column``); the schema records each exclusion, its ROC-AUC and why.

Legitimate single features stay far below the default 0.97: on the public bank-churn data the
strongest (Age) reaches about 0.73, on the simulated profiles at most about 0.80 (``README``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churnctl.contract.schema import ColumnSpec, Schema

LEAK_AUC = 0.97
MAX_ROWS = 200_000  # rows the powers are measured on (a stratified sample beyond)
RATE_FOLDS = 5
RATE_PRIOR = 20  # categories' rates are shrunk toward the overall rate by this many rows' weight
# Words of what happens at churn, followed by what is recorded about it: "Churn Reason", "Churn Score",
# "cancellation_date", "exit_reason", "TerminationType" (the target's own name is checked apart).
_OUTCOME = re.compile(
    r"(churn|cancel|exit|leav|terminat|attrit|closure|closed)[a-z]*[\W_]*"
    r"(reason|score|category|value|label|date|time|on|at|flag|type|status)\b",
    re.IGNORECASE,
)


@dataclass
class Power:
    auc: float  # in [0.5, 1]: either direction
    through: str  # "its values", "its categories" or "whether it is missing"


def outcome_name(name: str, target: str) -> str | None:
    """Why a column's name speaks of the outcome (the target's name inside it, or words that describe
    what happens at churn), or None."""
    own = re.sub(r"[^a-z0-9]", "", target.lower())
    if len(own) >= 4 and own in re.sub(r"[^a-z0-9]", "", name.lower()):
        return f"its name contains the target's ({target!r})"
    if _OUTCOME.search(name):
        return "its name speaks of the outcome"
    return None


def feature_powers(frame: pd.DataFrame, y: np.ndarray, schema: Schema, seed: int) -> dict[str, Power]:
    """Each feature's power alone (see the module's docstring), on ``frame`` (typed features) and 0/1 ``y``."""
    if len(y) > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), MAX_ROWS, replace=False))
        frame, y = frame.iloc[keep], y[keep]
    if y.min() == y.max():
        return {}
    powers = {}
    for spec in schema.features:
        best = _power(frame[spec.name], y, spec, seed)
        if best is not None:
            powers[spec.name] = best
    return powers


def _power(series: pd.Series, y: np.ndarray, spec: ColumnSpec, seed: int) -> Power | None:
    found = []
    missing = series.isna().to_numpy()
    if 0 < missing.sum() < len(missing):
        found.append(Power(_either(y, missing.astype(float)), "whether it is missing"))
    if spec.dtype == "number":
        values = series.to_numpy(dtype=float)
        present = ~missing
        if len(np.unique(y[present])) == 2:
            found.append(Power(_either(y[present], values[present]), "its values"))
    else:
        found.append(Power(_either(y, _cross_fitted_rates(series, y, seed)), "its categories"))
    return max(found, key=lambda p: p.auc) if found else None


def _either(y: np.ndarray, score: np.ndarray) -> float:
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def _cross_fitted_rates(series: pd.Series, y: np.ndarray, seed: int) -> np.ndarray:
    """Each row's category churn rate, learnt on the other folds (missing is a category of its own)."""
    codes = pd.factorize(series.fillna("\x00missing"))[0]
    rates = np.empty(len(y))
    prior = float(y.mean())
    folds = StratifiedKFold(n_splits=min(RATE_FOLDS, int(np.bincount(y).min())), shuffle=True, random_state=seed)
    for fit, apply in folds.split(np.zeros(len(y)), y):
        churned = np.bincount(codes[fit], weights=y[fit], minlength=codes.max() + 1)
        rows = np.bincount(codes[fit], minlength=codes.max() + 1)
        rates[apply] = ((churned + RATE_PRIOR * prior) / (rows + RATE_PRIOR))[codes[apply]]
    return rates


@dataclass
class Exclusion:
    name: str
    auc: float | None
    why: str


def leak_guard(
    schema: Schema, frame: pd.DataFrame, y: np.ndarray, *, leak_auc: float, keep: tuple[str, ...], seed: int
) -> tuple[Schema, list[Exclusion], list[str]]:
    """The schema with suspected leaks excluded (role ``leak``) and every feature's power recorded, the
    exclusions, and the warnings to give (a kept column that would have been excluded is warned about)."""
    powers = feature_powers(frame, y, schema, seed)
    exclusions, warnings = [], []
    for spec in schema.features:
        power = powers.get(spec.name)
        spec.alone_auc = round(power.auc, 6) if power is not None else None
        named = outcome_name(spec.name, schema.target)
        why = None
        if power is not None and power.auc >= leak_auc:
            why = f"alone it separates churners with ROC-AUC {power.auc:.3f} (through {power.through})"
        elif named is not None:
            why = named
        if why is None:
            continue
        if spec.kept or spec.name in keep:
            warnings.append(f"column {spec.name!r} looks like a leak ({why}) but is kept (--keep-column)")
            continue
        spec.role, spec.reason = "leak", f"suspected leak: {why}"
        exclusions.append(Exclusion(spec.name, spec.alone_auc, why))
        warnings.append(
            f"column {spec.name!r} is a suspected leak and was excluded: {why}; if its value is known before "
            f"a customer churns, keep it with --keep-column {spec.name}"
        )
    return schema, exclusions, warnings
