"""Inferring the data contract of an ingested file: the target and its positive label, each
column's role (feature, identifier, ignored) and kind, with what training saw."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.frames import reject_too_large
from churnctl.contract.problems import row_list
from churnctl.contract.schema import ColumnSpec, Schema, canonical_label
from churnctl.contract.values import infinite_cells, label_text, to_label, to_number, to_text
from churnctl.errors import DataError, UsageError, preview

# Target names recognised when --target is not given (compared case-insensitively).
TARGET_GUESSES = (
    "exited",
    "churn",
    "churned",
    "is_churn",
    "churn_flag",
    "attrition",
    "attrition_flag",
    "target",
    "label",
)
POSITIVE_LABELS = {
    "1",
    "yes",
    "y",
    "true",
    "t",
    "churn",
    "churned",
    "exited",
    "left",
    "lost",
    "attrited",
    "attrited customer",
    "cancelled",
    "canceled",
    "positive",
}
NEGATIVE_LABELS = {
    "0",
    "-1",
    "no",
    "n",
    "false",
    "f",
    "stayed",
    "retained",
    "existing",
    "existing customer",
    "active",
    "not churned",
    "negative",
}

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


@dataclass
class InferredData:
    schema: Schema
    frame: pd.DataFrame  # typed features + identifiers + target (0/1), rows with a label only
    n_unlabelled: int  # rows dropped because the target was missing
    warnings: list[str] = field(default_factory=list)


def resolve_target_name(columns: list[str], target: str | None) -> str:
    if target:
        if target in columns:
            return target
        close = [c for c in columns if c.lower() == target.lower()]
        raise DataError(
            f"target column {target!r} is not in the data",
            hint=(
                f"did you mean {close[0]!r}?"
                if close
                else f"columns found: {preview(columns, 12)}; pass --target COLUMN"
            ),
        )
    guesses = [c for c in columns if c.lower() in TARGET_GUESSES]
    if len(guesses) == 1:
        return guesses[0]
    raise UsageError(
        "no target column given and none could be recognised"
        + (f" (several candidates: {preview(guesses)})" if guesses else ""),
        hint="pass --target COLUMN or set target in the [data] section of churnctl.toml",
    )


def resolve_positive(labels: list[str], positive: str | None, target: str) -> tuple[str, str]:
    """(positive, negative) among exactly two distinct label texts."""
    if len(labels) < 2:
        raise DataError(
            f"target column {target!r} has only one class ({preview(labels)})",
            hint="a churn model needs rows of both churned and retained customers",
        )
    if len(labels) > 2:
        raise DataError(
            f"target column {target!r} has {len(labels)} distinct values "
            f"({preview(labels)}); expected exactly two classes",
            hint="map the target to two values (churned / not churned) before ingesting",
        )
    if positive is not None:
        wanted = label_text(positive)
        wanted = canonical_label(wanted) if wanted is not None else None
        match = [v for v in labels if v == wanted] or [v for v in labels if wanted and v.lower() == wanted.lower()]
        if not match:
            raise DataError(
                f"--positive {positive!r} is not a value of target {target!r}",
                hint=f"the target's values are {preview(labels)}",
            )
        pos = match[0]
    else:
        pos_hits = [v for v in labels if v.lower() in POSITIVE_LABELS]
        neg_hits = [v for v in labels if v.lower() in NEGATIVE_LABELS]
        if len(pos_hits) == 1 and pos_hits[0] not in neg_hits:
            pos = pos_hits[0]
        elif len(neg_hits) == 1:
            pos = next(v for v in labels if v != neg_hits[0])
        else:
            raise DataError(
                f"cannot tell which value of target {target!r} means churn: {preview(labels)}",
                hint="pass --positive VALUE (the label of churned customers)",
            )
    neg = next(v for v in labels if v != pos)
    return pos, neg


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
    elif (
        spec.n_unique == len(present)
        and np.all(present == np.round(present))
        and len(present) >= 2
        and (_looks_like_id(name) or (len(present) >= MIN_ROWS_FOR_UNIQUENESS and bool(np.all(np.diff(present) > 0))))
    ):
        spec.role, spec.reason = "identifier", "unique integer per row"
    else:
        spec.kind = "binary" if spec.n_unique == 2 else "numeric"
        spec.__dict__.update(_numeric_stats(values))
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


def infer_schema(frame: pd.DataFrame, target: str | None, positive: str | None) -> InferredData:
    """Infer the contract of a raw table and return it with the typed, labelled rows."""
    target = resolve_target_name(list(frame.columns), target)
    labels_text = to_label(frame[target])
    labelled = labels_text.notna().to_numpy()
    if not labelled.any():
        raise DataError(f"target column {target!r} has no values", hint="every training row needs a label")
    distinct = sorted(set(labels_text[labelled]))
    pos, neg = resolve_positive(distinct, positive, target)

    frame = frame.loc[labelled].reset_index(drop=True)
    labels_text = labels_text[labelled].reset_index(drop=True)
    columns: list[ColumnSpec] = []
    typed: dict[str, pd.Series] = {}
    warnings: list[str] = []
    for name in frame.columns:
        if name == target:
            columns.append(
                ColumnSpec(
                    name=name,
                    role="target",
                    kind="binary",
                    dtype="number",
                    n_unique=2,
                    categories={pos: int((labels_text == pos).sum()), neg: int((labels_text == neg).sum())},
                )
            )
            continue
        spec, values = _infer_column(name, frame[name], warnings)
        columns.append(spec)
        if spec.role in ("feature", "identifier"):
            typed[name] = values if spec.role == "feature" else to_text(frame[name])

    identifiers = [c.name for c in columns if c.role == "identifier"]
    id_column = next((n for n in identifiers if "id" in n.lower()), identifiers[0] if identifiers else None)
    schema = Schema(target=target, positive_label=pos, negative_label=neg, columns=columns, id_column=id_column)
    if not schema.features:
        excluded = [f"{c.name} ({c.reason})" for c in columns if c.role in ("identifier", "ignored")]
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


def refresh_statistics(schema: Schema, frame: pd.DataFrame) -> Schema:
    """The same contract (roles, kinds, labels) with what training saw recomputed on ``frame``
    (typed model input): categories and counts, ranges, missing rates. Used when new labelled data
    join the training rows, so that the challenger knows the categories they bring."""

    updated = copy.deepcopy(schema)
    for spec in updated.features:
        series = frame[spec.name]
        spec.missing_rate = float(series.isna().mean()) if len(series) else 0.0
        if spec.dtype == "string":
            counts = series.value_counts(dropna=True)
            spec.categories = {str(k): int(v) for k, v in counts.items()}
            spec.n_unique = len(spec.categories)
        else:
            values = series.to_numpy(dtype=float)
            if (~np.isnan(values)).any():
                spec.__dict__.update(_numeric_stats(values))
                spec.n_unique = len(np.unique(values[~np.isnan(values)]))
    return updated
