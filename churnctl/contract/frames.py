"""Enforcing the data contract on every input after ingest: prediction rows, batches, monitoring
data and newly labelled rows all go through :func:`prepare_features` (see :mod:`churnctl.contract.values`
for the typing rules)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnctl.contract.problems import (
    InvalidRows,
    Problem,
    lacking_columns_error,
    not_a_category,
    not_a_number,
    too_large,
    warn_infinite,
)
from churnctl.contract.schema import MAX_ABS_VALUE, Schema, canonical_label
from churnctl.contract.values import infinite_cells, to_label, to_number, to_text
from churnctl.errors import DataError, preview


def check_header(header: list[str], schema: Schema, source: str) -> None:
    """Raise, naming them, when a file's header lacks feature columns (before any row is read)."""
    if any(n not in header for n in schema.feature_names):
        prepare_features(pd.DataFrame(columns=header), schema, source=source)


def prepare_features(
    frame: pd.DataFrame, schema: Schema, *, source: str = "input", row_offset: int = 0
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Check ``frame`` against the schema; return (model input, unseen categories).

    Missing feature columns and cells of the wrong type raise :class:`DataError` naming them; rows
    are numbered from 1 (the first data row, header excluded) plus ``row_offset``. Categories never
    seen in training are kept (the model scores them as unknown) and returned as
    ``{column: {value: rows}}`` for the caller to report. Extra columns are ignored. Numbers of
    magnitude :data:`MAX_ABS_VALUE` or more are a data error (:func:`churnctl.contract.rows.too_large`), for
    scoring as for training or monitoring.
    """
    missing = [n for n in schema.feature_names if n not in frame.columns]
    if missing:
        raise lacking_columns_error(source, missing)
    unseen: dict[str, dict[str, int]] = {}
    out: dict[str, object] = {}
    problems: list[Problem] = []
    for spec in schema.features:
        series = frame[spec.name]
        if spec.dtype == "number":
            values, bad = to_number(series)
            infinite = bad & infinite_cells(series) if bad.any() else bad
            if infinite.any():  # as at ingest: an infinite number is a missing value, with a warning
                warn_infinite(source, spec.name, np.flatnonzero(infinite).tolist(), row_offset)
                bad = bad & ~infinite
            if bad.any():
                wrong = np.flatnonzero(bad).tolist()
                problems.append(not_a_number(source, spec.name, wrong, series.iloc[wrong[0]], row_offset))
            huge = np.flatnonzero(np.abs(values) >= MAX_ABS_VALUE)
            if len(huge):
                problems.append(too_large(source, spec.name, huge.tolist(), float(values[huge[0]]), row_offset))
            out[spec.name] = values
        else:
            if series.dtype == object:
                nested = series.map(lambda v: isinstance(v, (dict, list))).to_numpy(dtype=bool)
                if nested.any():
                    wrong = np.flatnonzero(nested).tolist()
                    problems.append(not_a_category(source, spec.name, wrong, series.iloc[wrong[0]], row_offset))
                    continue
            text = to_text(series)
            new = text.notna() & ~text.isin(set(spec.categories or ()))
            if new.any():
                unseen[spec.name] = {str(k): int(v) for k, v in text[new].value_counts().items()}
            out[spec.name] = text.to_numpy(dtype=object)
    if problems:
        raise InvalidRows(problems)
    return pd.DataFrame(out, index=frame.index), unseen


def reject_too_large(values: np.ndarray, name: str, source: str = "", row_offset: int = 0) -> None:
    """Raise :class:`InvalidRows` for numbers of magnitude :data:`MAX_ABS_VALUE` or more (NaN passes)."""
    huge = np.flatnonzero(np.abs(values) >= MAX_ABS_VALUE)
    if len(huge):
        raise InvalidRows([too_large(source, name, huge.tolist(), float(values[huge[0]]), row_offset)])


def merge_unseen(total: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> None:
    for column, counts in more.items():
        bucket = total.setdefault(column, {})
        for value, rows in counts.items():
            bucket[value] = bucket.get(value, 0) + rows


def encode_target(series: pd.Series, schema: Schema, *, source: str = "input") -> tuple[np.ndarray, np.ndarray]:
    """(labels as 0/1 int8, mask of labelled rows) using the recorded positive and negative labels."""
    text = to_label(series)
    present = text.notna().to_numpy()
    positive = canonical_label(schema.positive_label)  # a schema stored with "1.0" reads "1" files too
    known = {positive, canonical_label(schema.negative_label)}
    unknown = present & ~text.isin(known).to_numpy()
    if unknown.any():
        raise DataError(
            f"{source}: target {schema.target!r} has values the model does not know: {preview(set(text[unknown]))}",
            hint=f"expected {schema.positive_label!r} (churn) or {schema.negative_label!r}",
        )
    return (text == positive).to_numpy().astype("int8"), present
