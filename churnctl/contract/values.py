"""The data contract's typing of cells (:mod:`churnctl.contract.inference` infers
it at ingest, :mod:`churnctl.contract.frames` enforces it later).

A :class:`Schema` records, for each column of the ingested file, its role (feature, target,
identifier, ignored), the kind of a feature (numeric, binary, categorical), and what training saw
(categories with counts, numeric range, missing rate). Every later input (prediction rows, batches,
monitoring data, new labelled data) goes through :func:`churnctl.contract.frames.prepare_features`, so
one set of typing rules holds everywhere:

* numeric cells: numbers; blank cells and the usual null tokens are missing; ``true``/``false``
  read as 1/0; anything else ("abc" in Age) is an error naming row and column;
* categorical cells: text with surrounding blanks removed; integer-valued numbers are written
  without a decimal point (``1.0`` and ``"1"`` are the same category); categories never seen in
  training are scored as unknown and reported.

:class:`Schema` and :class:`ColumnSpec` are defined in :mod:`churnctl.contract.schema` (no pandas), and
:mod:`churnctl.contract.rows` applies the same rules to JSON rows without pandas; this module types the
cells of DataFrames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_string_dtype

from churnctl.contract.schema import INFINITY, canonical_label
from churnctl.contract.schema import label_text as _label_text

# ---------------------------------------------------------------------------------------------
# Typing cells


def label_text(value: object) -> str | None:
    """Canonical text of a label or category: None for missing, '1' for 1 and 1.0."""
    if value is pd.NA:
        return None
    return _label_text(value)


def to_text(series: pd.Series) -> pd.Series:
    """Object series of canonical category text, NaN where missing."""
    if (is_string_dtype(series.dtype) and series.dtype != object) or (
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string"
    ):  # text only (as CSV cells and Parquet strings are): pandas' string methods, not a call per cell
        out = series.str.strip()
        out = out.mask(out == "")
        return out.astype(object).where(out.notna(), np.nan)
    return series.map(label_text).astype(object).where(lambda s: s.notna(), np.nan)


def to_label(series: pd.Series) -> pd.Series:
    """Canonical text of target labels: :func:`to_text`, and a label written as an integer-valued
    decimal ("1.0", as pandas writes an integer column that has blanks) is that integer ("1"). A column
    of few distinct values (a target has two or three) is converted one distinct value at a time."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # cells that cannot be told apart by hashing (lists, dicts): read one by one
        return _each_label(series)
    if not len(uniques) or len(uniques) * 4 > len(series):
        return _each_label(series)
    labels = _each_label(pd.Series(uniques)).to_numpy(dtype=object, na_value=None)
    text = np.where(codes >= 0, labels[np.maximum(codes, 0)], None)
    return pd.Series(text, index=series.index, dtype=object).where(codes >= 0)


def _each_label(series: pd.Series) -> pd.Series:
    text = to_text(series)
    decimal = text.str.fullmatch(r"[+-]?\d+\.0*").fillna(False).astype(bool)
    if decimal.any():
        text = text.mask(decimal, text[decimal].map(canonical_label))
    return text


def infinite_cells(series: pd.Series) -> np.ndarray:
    """Mask of the cells that hold infinity: a float that is, or text that spells it (``inf``,
    ``-Infinity``). A number too large for a float ("1e400") is not one: it stays an error."""
    if is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype):
        return np.isinf(series.to_numpy(dtype="float64", na_value=np.nan))

    def infinite(v: object) -> bool:
        return (isinstance(v, float) and bool(np.isinf(v))) or (
            isinstance(v, str) and INFINITY.fullmatch(v.strip()) is not None
        )

    return np.array([infinite(v) for v in series.tolist()], dtype=bool)


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
