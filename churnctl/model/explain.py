"""Why a row scored as it did: the top reasons of each prediction, model-agnostic.

For each feature, the row's churn probability is compared with the probability of the same row
with that feature set to its typical value in the version's training reference (the median of a
number, the most frequent category or 0/1 flag), all other features kept: the difference is what the row's own
value adds (positive) or takes away (negative). One scoring of the rows per feature, so it suits
the few rows of ``predict --json``; the reasons are the features with the largest absolute effects.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.schema import Schema

TOP = 3


def typical_values(reference: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Per feature, the reference's median (numbers) or most frequent value (categories); NaN if none."""
    typical: dict[str, Any] = {}
    for name in schema.feature_names:
        column = reference[name]
        if name in schema.numeric_names and schema.column(name).kind != "binary":
            typical[name] = float(column.median()) if column.notna().any() else math.nan
        else:
            counts = column.dropna().value_counts()
            typical[name] = counts.index[0] if len(counts) else math.nan
    return typical


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


def reasons(
    predict_proba: Any,
    X: pd.DataFrame,
    schema: Schema,
    typical: dict[str, Any],
    top: int = TOP,
    base: np.ndarray | None = None,
) -> list[list[dict[str, Any]]]:
    """Per row, up to ``top`` reasons ``{"feature", "value", "effect"}``, largest absolute effect
    first; features whose typical value changes nothing are left out. ``base``: the rows'
    probabilities when the caller has them already."""
    names = schema.feature_names
    base = np.asarray(predict_proba(X) if base is None else base)
    effects = np.zeros((len(X), len(names)))
    altered = X.copy()  # one copy: each feature is set to its typical value, scored, then put back
    for j, name in enumerate(names):
        altered[name] = pd.Series([typical[name]] * len(X), index=X.index, dtype=X[name].dtype)
        effects[:, j] = base - np.asarray(predict_proba(altered))
        altered[name] = X[name]
    out = []
    for i in range(len(X)):
        order = np.argsort(-np.abs(effects[i]), kind="stable")
        row = []
        for j in order[:top]:
            if abs(effects[i, j]) >= 5e-7:
                value = _json_value(X[names[j]].iloc[i])
                row.append({"feature": names[j], "value": value, "effect": round(float(effects[i, j]), 6)})
        out.append(row)
    return out
