"""From churn probabilities to predictions: label, risk level and confidence (numpy only, shared by
the scikit-learn and the compiled scoring paths)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from churnctl.contract.schema import Schema
from churnctl.errors import UsageError


def confidence(proba: np.ndarray, threshold: float) -> np.ndarray:
    """How decided the label is: 0 at the threshold, 1 at probability 0 or 1.

    The distance of the probability from the decision threshold, as a share of the room on that
    side: (p - t) / (1 - t) above the threshold, (t - p) / t below it.
    """
    above = proba >= threshold
    return np.where(above, (proba - threshold) / (1.0 - threshold), (threshold - proba) / threshold)


def logit(proba: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p kept inside [1e-12, 1 - 1e-12]."""
    p = np.clip(np.asarray(proba, dtype=float), 1e-12, 1 - 1e-12)
    return np.asarray(np.log(p) - np.log1p(-p))


def calibrate(proba: np.ndarray, mapping: dict[str, Any] | None) -> np.ndarray:
    """Apply a model version's calibration (see :mod:`churnctl.model.calibration`): ``sigmoid`` maps p to
    1 / (1 + exp(-(a·logit(p) + b))), ``isotonic`` interpolates linearly between its points (flat
    beyond them); none (or an older version without one) leaves p as it is."""
    proba = np.asarray(proba, dtype=float)
    method = (mapping or {}).get("method", "none")
    if method == "sigmoid":
        return np.asarray(1.0 / (1.0 + np.exp(-(mapping["a"] * logit(proba) + mapping["b"]))))  # type: ignore[index]
    if method == "isotonic":
        return np.interp(proba, mapping["x"], mapping["y"])  # type: ignore[index]
    return proba


def high_risk_cut(threshold: float, high_risk: str | float, version: str) -> float:
    """The probability from which risk is "high": ``[predict] high_risk``, which must lie above the
    model's threshold, or with "auto" halfway between the threshold and 1 (confidence 0.5 on the
    churn side)."""
    if high_risk == "auto":
        return threshold + (1.0 - threshold) / 2
    cut = float(high_risk)
    if not threshold < cut < 1.0:
        raise UsageError(
            f"[predict] high_risk = {cut:g} is not above model {version}'s decision threshold {threshold:.4f}: "
            "high risk must start above the probability from which customers are labelled churners",
            hint=f'set high_risk between {threshold:.4f} and 1, or to "auto"',
        )
    return cut


def risk_levels(proba: np.ndarray, threshold: float, high: float) -> np.ndarray:
    """ "low" below the threshold (label 0), "medium" from it, "high" from ``high``: never a
    predicted churner at low risk."""
    return np.where(proba < threshold, "low", np.where(proba < high, "medium", "high"))


def prediction_columns(proba: np.ndarray, threshold: float, high: float) -> dict[str, np.ndarray]:
    """The prediction columns of scored rows, as every scoring path writes them: churn_probability
    (6 decimals), churn_label, risk_level and confidence (6 decimals)."""
    return {
        "churn_probability": np.round(proba, 6),
        "churn_label": (proba >= threshold).astype(int),
        "risk_level": risk_levels(proba, threshold, high),
        "confidence": np.round(confidence(proba, threshold), 6),
    }


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def json_predictions(
    rows: list[dict], proba: np.ndarray, schema: Schema, threshold: float, high: float, version: str
) -> list[dict]:
    """The prediction objects of ``predict --json``, key for key and value for value what the
    scikit-learn path writes: identifiers present in any row (as the caller sent them), then
    churn_probability, churn_label, risk_level, confidence and model_version."""
    identifiers = [n for n in schema.identifier_names if any(n in row for row in rows)]
    columns = {name: values.tolist() for name, values in prediction_columns(proba, threshold, high).items()}
    records = []
    for i, row in enumerate(rows):
        record: dict = {name: row.get(name) for name in identifiers}
        record["churn_probability"] = _json_float(columns["churn_probability"][i])
        record["churn_label"] = columns["churn_label"][i]
        record["risk_level"] = columns["risk_level"][i]
        record["confidence"] = _json_float(columns["confidence"][i])
        record["model_version"] = version
        records.append(record)
    return records
