"""Inferring the data contract of an ingested file: the target and its positive label, each
column's role (feature, identifier, ignored) and kind, with what training saw."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.frames import reject_too_large
from churnctl.contract.labels import resolve_positive, resolve_target_name
from churnctl.contract.problems import row_list
from churnctl.contract.schema import ColumnSpec, Schema
from churnctl.contract.tally import SchemaTally
from churnctl.contract.values import infinite_cells, to_label, to_number, to_text
from churnctl.errors import DataError, UsageError, preview

# A text column with more distinct values than this (and more than 5 % of its rows) is treated as
# free text, not as a category: one-hot columns or tree splits on thousands of surnames learn noise.
MAX_CATEGORIES = 200
# Columns with fewer non-missing rows than this are too small to judge uniqueness as an identifier.
MIN_ROWS_FOR_UNIQUENESS = 20


def _looks_like_id(name: str) -> bool:
    if re.search(r"[a-z](Id|ID|Number|Num)$", name):  # camelCase: CustomerId, RowNumber
        return True
    return bool(
        re.search(r"(^|[_\s.-])(id|uuid|guid|key|number|no)$|^(id|uuid|index|row|rownum)$", name, re.IGNORECASE)
    )


# An integer column unique on this share of its rows is an identifier (a customer number), whatever
# its name: a measurement rounded to integers repeats long before.
UNIQUE_ID_SHARE = 0.995
# A column named like an identifier whose values repeat (rows of one customer, monthly snapshots) is one
# when it has at least this many distinct values and this share of the rows (else it is a small code).
MIN_REPEATED_IDS = 20
MIN_REPEATED_ID_SHARE = 0.01
_CODE = re.compile(r"(?:\d{6,}|(?=[0-9a-f-]*[a-f])(?=[0-9a-f-]*\d)[0-9a-f]{8,}(?:-[0-9a-f]{4,})*)", re.IGNORECASE)


def _numeric_identifier(name: str, present: np.ndarray, n_unique: int) -> str | None:
    """Why an integer-valued column is an identifier, or None: unique on (nearly) every row, counting up
    row by row, or named like one and repeating as a customer's rows do."""
    if len(present) < 2 or not np.all(present == np.round(present)):
        return None
    enough = len(present) >= MIN_ROWS_FOR_UNIQUENESS
    if n_unique == len(present) and (_looks_like_id(name) or (enough and bool(np.all(np.diff(present) > 0)))):
        return "unique integer per row"
    if enough and n_unique >= UNIQUE_ID_SHARE * len(present):
        return "unique integer per row"
    if _looks_like_id(name) and n_unique >= max(MIN_REPEATED_IDS, MIN_REPEATED_ID_SHARE * len(present)):
        return f"identifier named like one, {len(present) / n_unique:.1f} rows per value"
    return None


def _text_identifier(name: str, counts: pd.Series, n_present: int) -> str | None:
    """Why a text column that is not unique is an identifier, or None: long digit or hex codes (account
    numbers, UUIDs), or named like an identifier and repeating as a customer's rows do."""
    values = counts.index.astype(str)
    if len(values) >= 2 and values.str.fullmatch(_CODE).all():
        return "long digit or hex codes"
    if _looks_like_id(name) and len(values) >= max(MIN_REPEATED_IDS, MIN_REPEATED_ID_SHARE * n_present):
        return f"identifier named like one, {n_present / len(values):.1f} rows per value"
    return None


@dataclass
class InferredData:
    schema: Schema
    frame: pd.DataFrame  # typed features + identifiers + target (0/1), rows with a label only
    n_unlabelled: int  # rows dropped because the target was missing
    warnings: list[str] = field(default_factory=list)


def _numeric_stats(values: np.ndarray) -> dict:
    present = values[~np.isnan(values)]
    return {
        "minimum": float(present.min()),
        "maximum": float(present.max()),
        "mean": float(present.mean()),
        "std": float(present.std(ddof=1)) if len(present) > 1 else 0.0,
    }


# A text column whose cells are numbers except for at most this share is numeric with a few bad
# cells (read as missing, and reported), not a categorical column of numbers.
MAX_BAD_NUMERIC_SHARE = 0.05


def _infer_column(name: str, series: pd.Series, warnings: list[str]) -> tuple[ColumnSpec, pd.Series]:
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype):
        return ColumnSpec(
            name=name,
            role="ignored",
            reason="date/time column (derive features from it first)",
            missing_rate=float(series.isna().mean()) if n else 0.0,
        ), series
    values, bad, n_bad, n_present = _read_numbers(name, series, warnings)
    if not bad.any():
        return _numeric_column(name, values, n), pd.Series(values, index=series.index, name=name)
    if 0 < n_bad <= 0.5 * n_present:  # mostly numbers, but too many cells are not: say so, it is read as text
        warnings.append(
            f"column {name!r} is read as categories: {n_bad} of its {n_present} values ({n_bad / n_present:.0%}) "
            f"are not numbers, e.g. {series.iloc[int(np.flatnonzero(bad)[0])]!s:.20}; clean them to use it as numbers"
        )
    text = to_text(series)
    return _text_column(name, text, n), text


def _read_numbers(name: str, series: pd.Series, warnings: list[str]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(values, cells that are not numbers, how many, how many present) of a column read as numbers: an
    infinity is a missing value, and a few stray cells (at most :data:`MAX_BAD_NUMERIC_SHARE`) too."""
    values, bad = to_number(series)
    infinite = bad & infinite_cells(series) if bad.any() else bad
    if infinite.any() and (~np.isnan(values)).any():  # infinity is a missing value, as in every command
        warnings.append(
            f"column {name!r}: {int(infinite.sum())} infinite value(s) read as missing "
            f"(row {row_list(np.flatnonzero(infinite).tolist())})"
        )
        bad = bad & ~infinite
    n_bad, n_present = int(bad.sum()), int((~np.isnan(values)).sum()) + int(bad.sum())
    if 0 < n_bad <= MAX_BAD_NUMERIC_SHARE * n_present and n_present - n_bad >= MIN_ROWS_FOR_UNIQUENESS:
        examples = ", ".join(f"{series.iloc[i]!s:.20} (row {i + 1})" for i in np.flatnonzero(bad)[:3])
        warnings.append(
            f"column {name!r} is numeric but {n_bad} cell(s) are not numbers and were read as "
            f"missing: {examples}{' …' if n_bad > 3 else ''}"
        )
        bad = np.zeros_like(bad)
    return values, bad, n_bad, n_present


def _numeric_column(name: str, values: np.ndarray, n: int) -> ColumnSpec:
    present = values[~np.isnan(values)]
    reject_too_large(values, name)
    spec = ColumnSpec(
        name=name,
        role="feature",
        dtype="number",
        missing_rate=float(1 - len(present) / n) if n else 0.0,
        n_unique=len(np.unique(present)),
    )
    if spec.n_unique == 0:
        spec.role, spec.reason = "ignored", "all values missing"
    elif spec.n_unique == 1:
        spec.role, spec.reason = "ignored", "constant (one distinct value)"
    elif (reason := _numeric_identifier(name, present, spec.n_unique)) is not None:
        spec.role, spec.reason = "identifier", reason
    else:
        spec.kind = "binary" if spec.n_unique == 2 else "numeric"
        spec.__dict__.update(_numeric_stats(values))
        spec.integer = bool(np.all(present == np.round(present)))
    return spec


def _text_column(name: str, text: pd.Series, n: int) -> ColumnSpec:
    counts = text.value_counts(dropna=True)
    n_present = int(counts.sum())
    spec = ColumnSpec(
        name=name,
        role="feature",
        dtype="string",
        missing_rate=float(1 - n_present / n) if n else 0.0,
        n_unique=len(counts),
    )
    if spec.n_unique == 0:
        spec.role, spec.reason = "ignored", "all values missing"
    elif spec.n_unique == 1:
        spec.role, spec.reason = "ignored", "constant (one distinct value)"
    elif spec.n_unique == n_present and (n_present >= MIN_ROWS_FOR_UNIQUENESS or _looks_like_id(name)):
        spec.role, spec.reason = "identifier", "unique text per row"
    elif (reason := _text_identifier(name, counts, n_present)) is not None:
        spec.role, spec.reason = "identifier", reason
    elif n_present >= MIN_ROWS_FOR_UNIQUENESS and spec.n_unique > 0.5 * n_present:
        spec.role, spec.reason = "ignored", f"free text ({spec.n_unique} distinct values in {n_present} rows)"
    elif spec.n_unique > MAX_CATEGORIES and spec.n_unique > 0.05 * n_present:
        spec.role, spec.reason = (
            "ignored",
            (f"high-cardinality text ({spec.n_unique} distinct values, more than {MAX_CATEGORIES})"),
        )
    else:
        spec.kind = "binary" if spec.n_unique == 2 else "categorical"
        spec.categories = {str(k): int(v) for k, v in counts.items()}
    return spec


def infer_schema(
    frame: pd.DataFrame,
    target: str | None,
    positive: str | None,
    *,
    keep: tuple[str, ...] = (),
    group: str | None = None,
    time: str | None = None,
) -> InferredData:
    """Infer the contract of a raw table and return it with the typed, labelled rows. ``keep``: columns
    kept as features whatever the guards say; ``group``, ``time``: the group and time columns (not
    features; without ``group``, an identifier that repeats across rows is the group)."""
    target = resolve_target_name(list(frame.columns), target)
    for option, names in (("--keep-column", keep), ("--group-column", [group]), ("--time-column", [time])):
        unknown = [n for n in names if n is not None and n not in frame.columns]
        if unknown:
            raise UsageError(
                f"{option} {preview(unknown)} is not a column of the data",
                hint=f"columns: {preview(list(frame.columns), 12)}",
            )
        if target in names:
            raise UsageError(f"{option} names the target {target!r}")
    labels_text = to_label(frame[target])
    labelled = labels_text.notna().to_numpy()
    if not labelled.any():
        raise DataError(f"target column {target!r} has no values", hint="every training row needs a label")
    pos, neg = resolve_positive(sorted(set(labels_text[labelled])), positive, target)
    frame = frame.loc[labelled].reset_index(drop=True)
    labels_text = labels_text[labelled].reset_index(drop=True)
    columns: list[ColumnSpec] = []
    typed: dict[str, pd.Series] = {}
    warnings: list[str] = []
    for name in frame.columns:
        if name == target:
            categories = {pos: int((labels_text == pos).sum()), neg: int((labels_text == neg).sum())}
            columns.append(ColumnSpec(name, "target", "binary", "number", n_unique=2, categories=categories))
            continue
        if name == time:
            spec, values = time_column(name, frame[name])
        else:
            spec, values = _infer_column(name, frame[name], warnings)
            if name in keep and spec.role != "feature":
                spec, values = _kept(name, frame[name], spec, warnings)
            if name == group and spec.role != "identifier":
                spec = ColumnSpec(name, "group", reason="the group column (--group-column)")
        columns.append(spec)
        if spec.role in ("feature", "time"):
            typed[name] = values
        elif spec.role in ("identifier", "group"):
            typed[name] = to_text(frame[name])
    identifiers = [c.name for c in columns if c.role == "identifier"]
    id_column = next((n for n in identifiers if "id" in n.lower()), identifiers[0] if identifiers else None)
    schema = Schema(target=target, positive_label=pos, negative_label=neg, columns=columns, id_column=id_column)
    schema.time_column = time
    schema.group_column = group or _repeating_identifier(schema, typed, warnings)
    if not schema.features:
        excluded = [f"{c.name} ({c.reason})" for c in columns if c.role not in ("feature", "target")]
        raise DataError(
            "no usable feature column: every column is the target, an identifier or excluded",
            hint=f"excluded: {', '.join(excluded[:8]) or 'none'}",
        )
    typed[target] = (labels_text == pos).astype("int8")
    return InferredData(
        schema=schema,
        frame=pd.DataFrame(typed)[[c.name for c in columns if c.name in typed]],
        n_unlabelled=int((~labelled).sum()),
        warnings=warnings,
    )


def _kept(name: str, series: pd.Series, spec: ColumnSpec, warnings: list[str]) -> tuple[ColumnSpec, pd.Series]:
    """A column that ``--keep-column`` keeps as a feature although it looked like an identifier (or was
    left out): numbers stay numbers, text becomes categories."""
    values, bad = to_number(series)
    if not bad.any() and (~np.isnan(values)).any():
        present = values[~np.isnan(values)]
        kept = ColumnSpec(
            name, "feature", "numeric", "number", float(1 - len(present) / len(series)), len(np.unique(present))
        )
        kept.__dict__.update(_numeric_stats(values))
        kept.kept = True
        return kept, pd.Series(values, index=series.index, name=name)
    text = to_text(series)
    counts = text.value_counts(dropna=True)
    if not len(counts):
        warnings.append(f"--keep-column {name}: the column holds no values; left out")
        return spec, text
    kind = "binary" if len(counts) == 2 else "categorical"
    kept = ColumnSpec(name, "feature", kind, "string", float(text.isna().mean()), len(counts))
    kept.categories = {str(k): int(v) for k, v in counts.items()}
    kept.kept = True
    return kept, text


def _repeating_identifier(schema: Schema, typed: dict[str, pd.Series], warnings: list[str]) -> str | None:
    """The identifier whose values repeat across rows (a customer's monthly rows), used as the group."""
    for spec in schema.columns:
        if spec.role == "identifier" and typed[spec.name].nunique() < typed[spec.name].notna().sum():
            warnings.append(
                f"rows repeat per {spec.name!r} ({spec.reason}): it is used as the group, so every row of one "
                "value stays on one side of the split and in one cross-validation fold (--group-column to "
                "choose another)"
            )
            return spec.name
    return None


def time_column(name: str, series: pd.Series) -> tuple[ColumnSpec, pd.Series]:
    """The time column, as times (dates, date-times; UTC, whatever offsets they carry) or numbers (a
    period index); every row needs one. A Parquet timestamp column is times, as the same dates in a CSV are."""
    if pd.api.types.is_datetime64_any_dtype(series):
        times: pd.Series = pd.to_datetime(series, utc=True).dt.tz_localize(None).astype("datetime64[ns]")
    else:
        values, bad = to_number(series)
        if not bad.any() and not np.isnan(values).any():
            times = pd.Series(values, index=series.index, name=name)
        else:
            import warnings as python_warnings

            with python_warnings.catch_warnings():
                python_warnings.simplefilter("ignore")
                times = pd.to_datetime(to_text(series), errors="coerce", format="mixed", utc=True)
            times = times.dt.tz_localize(None).astype("datetime64[ns]")
    missing = np.flatnonzero(times.isna().to_numpy())
    if len(missing):
        raise DataError(
            f"time column {name!r} has {len(missing)} value(s) that are not dates or numbers, e.g. "
            f"{series.iloc[missing[0]]!s:.30} in row {row_list(missing.tolist())}",
            hint="give every row a date (2026-03-31) or a period number, or drop --time-column",
        )
    spec = ColumnSpec(name, "time", n_unique=int(times.nunique()), reason="the time column (--time-column)")
    return spec, times


def refresh_statistics(schema: Schema, frame: pd.DataFrame) -> Schema:
    """The same contract (roles, kinds, labels) with what training saw recomputed on ``frame``
    (typed model input): categories and counts, ranges, missing rates. Used when new labelled data
    join the training rows, so that the challenger knows the categories they bring."""
    tally = SchemaTally.of(schema)
    tally.update(frame)
    return tally.apply(schema)


@dataclass
class TypedBatch:
    """Rows of one batch of a table too large for memory, typed by a contract inferred on a sample."""

    frame: pd.DataFrame  # the columns infer_schema types (suspected leaks included), labelled rows only
    n_unlabelled: int
    not_numbers: dict[str, int]  # cells of numeric features that are not numbers (read as missing)


TYPED_ROLES = ("feature", "leak", "time", "identifier", "group", "target")


def type_rows(raw: pd.DataFrame, schema: Schema) -> TypedBatch:
    """Type a batch of raw rows as :func:`infer_schema` typed the rows it saw: features as numbers or
    category text, identifiers and the group as text, the time as times, the target as 0/1 (rows
    without a label left out; a third label is an error). A numeric feature's cells that are not
    numbers are read as missing and counted."""
    labels = to_label(raw[schema.target])
    labelled = labels.notna().to_numpy()
    other = sorted(set(labels[labelled]) - {schema.positive_label, schema.negative_label})
    if other:
        raise DataError(
            f"target {schema.target!r} holds {preview(other)} beside the labels {schema.positive_label!r} "
            f"and {schema.negative_label!r} found in the sample the contract was inferred on",
            hint="a churn target has two values: clean the others, or drop those rows",
        )
    rows = raw.loc[labelled].reset_index(drop=True) if not labelled.all() else raw.reset_index(drop=True)
    typed: dict[str, pd.Series] = {}
    not_numbers: dict[str, int] = {}
    for spec in schema.columns:
        if spec.role not in TYPED_ROLES or spec.name not in rows.columns:
            continue
        series = rows[spec.name]
        if spec.role == "target":
            typed[spec.name] = (labels[labelled].reset_index(drop=True) == schema.positive_label).astype("int8")
        elif spec.role == "time":
            typed[spec.name] = time_column(spec.name, series)[1]
        elif spec.role in ("identifier", "group") or spec.dtype == "string":
            typed[spec.name] = to_text(series)
        else:
            values, bad = to_number(series)
            if bad.any():
                not_numbers[spec.name] = int(bad.sum())
            typed[spec.name] = pd.Series(values, name=spec.name)
    return TypedBatch(pd.DataFrame(typed), int((~labelled).sum()), not_numbers)
