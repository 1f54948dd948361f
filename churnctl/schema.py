"""The data contract: column roles and kinds, and the typing of cells (:mod:`churnctl.inference` infers
it at ingest, :mod:`churnctl.features` enforces it later).

A :class:`Schema` records, for each column of the ingested file, its role (feature, target,
identifier, ignored), the kind of a feature (numeric, binary, categorical), and what training saw
(categories with counts, numeric range, missing rate). Every later input (prediction rows, batches,
monitoring data, new labelled data) goes through :func:`churnctl.features.prepare_features`, so
one set of typing rules holds everywhere:

* numeric cells: numbers; blank cells and the usual null tokens are missing; ``true``/``false``
  read as 1/0; anything else ("abc" in Age) is an error naming row and column;
* categorical cells: text with surrounding blanks removed; integer-valued numbers are written
  without a decimal point (``1.0`` and ``"1"`` are the same category); categories never seen in
  training are scored as unknown and reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_string_dtype

from churnctl.errors import ArtifactError

SCHEMA_FORMAT = 1


@dataclass
class ColumnSpec:
    name: str
    role: str  # feature | target | identifier | ignored
    kind: str | None = None  # numeric | binary | categorical (features and target)
    dtype: str | None = None  # number | string: how the model receives the column
    missing_rate: float = 0.0
    n_unique: int = 0
    categories: dict[str, int] | None = None  # string features: training counts per category
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    reason: str | None = None  # why an identifier or ignored column is excluded


@dataclass
class Schema:
    target: str
    positive_label: str
    negative_label: str
    columns: list[ColumnSpec] = field(default_factory=list)
    id_column: str | None = None
    format: int = SCHEMA_FORMAT

    @property
    def features(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role == "feature"]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def numeric_names(self) -> list[str]:
        return [c.name for c in self.features if c.dtype == "number"]

    @property
    def categorical_names(self) -> list[str]:
        return [c.name for c in self.features if c.dtype == "string"]

    @property
    def identifier_names(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "identifier"]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        data = dict(data)
        if data.get("format") != SCHEMA_FORMAT:
            raise ArtifactError(
                f"schema format {data.get('format')} is not supported by this churnctl (expects {SCHEMA_FORMAT})",
                hint="re-ingest the data with this version",
            )
        data["columns"] = [ColumnSpec(**c) for c in data.get("columns", [])]
        return cls(**data)


# ---------------------------------------------------------------------------------------------
# Typing cells


def label_text(value: object) -> str | None:
    """Canonical text of a label or category: None for missing, '1' for 1 and 1.0."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text or None


def to_text(series: pd.Series) -> pd.Series:
    """Object series of canonical category text, NaN where missing."""
    if is_string_dtype(series.dtype) and series.dtype != object:
        out = series.str.strip()
        out = out.mask(out == "")
        return out.astype(object).where(out.notna(), np.nan)
    return series.map(label_text).astype(object).where(lambda s: s.notna(), np.nan)


def to_number(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values with NaN for missing, mask of cells that are present but not numbers)."""
    n = len(series)
    if is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        return values, np.zeros(n, dtype=bool)
    if is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values) & ~np.isnan(values)
        return np.where(bad, np.nan, values), bad
    if is_string_dtype(series.dtype) and series.dtype != object:
        text = series.str.strip()
        lower = text.str.lower()
        text = text.mask(lower == "true", "1").mask(lower == "false", "0").mask(text == "")
    else:  # mixed Python objects (JSON rows)

        def clean(v: object) -> object:
            if isinstance(v, (bool, np.bool_)):
                return float(v)
            if isinstance(v, str):
                t = v.strip()
                return {"true": "1", "false": "0", "": None}.get(t.lower(), t)
            if isinstance(v, (dict, list)):
                return "<" + type(v).__name__ + ">"
            return v

        text = series.map(clean)
    present = text.notna().to_numpy()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = present & ~np.isfinite(values)
    return np.where(bad, np.nan, values), bad
