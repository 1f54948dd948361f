"""The data contract: inferring it at ingest, enforcing it at every later entry point.

A :class:`Schema` records, for each column of the ingested file, its role (feature, target,
identifier, ignored), the kind of a feature (numeric, binary, categorical), and what training saw
(categories with counts, numeric range, missing rate). Every later input (prediction rows, batches,
monitoring data, new labelled data) goes through :func:`prepare_features`, so one set of typing
rules holds everywhere:

* numeric cells: numbers; blank cells and the usual null tokens are missing; ``true``/``false``
  read as 1/0; anything else ("abc" in Age) is an error naming row and column;
* categorical cells: text with surrounding blanks removed; integer-valued numbers are written
  without a decimal point (``1.0`` and ``"1"`` are the same category); categories never seen in
  training are scored as unknown and reported.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_string_dtype

from churnctl.errors import DataError, UsageError, preview

SCHEMA_FORMAT = 1

# Target names recognised when --target is not given (compared case-insensitively).
TARGET_GUESSES = ("exited", "churn", "churned", "is_churn", "churn_flag", "attrition", "attrition_flag",
                  "target", "label")
POSITIVE_LABELS = {"1", "yes", "y", "true", "t", "churn", "churned", "exited", "left", "lost",
                   "attrited", "attrited customer", "cancelled", "canceled", "positive"}
NEGATIVE_LABELS = {"0", "-1", "no", "n", "false", "f", "stayed", "retained", "existing",
                   "existing customer", "active", "not churned", "negative"}

# A text column with more distinct values than this (and more than 5 % of its rows) is treated as
# free text, not as a category: one-hot columns or tree splits on thousands of surnames learn noise.
MAX_CATEGORIES = 200
# Columns with fewer non-missing rows than this are too small to judge uniqueness as an identifier.
MIN_ROWS_FOR_UNIQUENESS = 20

def _looks_like_id(name: str) -> bool:
    if re.search(r"[a-z](Id|ID|Number|Num)$", name):  # camelCase: CustomerId, RowNumber
        return True
    return bool(re.search(r"(^|[_\s.-])(id|uuid|guid|key|number|no)$|^(id|uuid|index|row|rownum)$",
                          name, re.IGNORECASE))


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
            from churnctl.errors import ArtifactError
            raise ArtifactError(f"schema format {data.get('format')} is not supported by this churnctl "
                                f"(expects {SCHEMA_FORMAT})", hint="re-ingest the data with this version")
        data["columns"] = [ColumnSpec(**c) for c in data.get("columns", [])]
        return cls(**data)


# ---------------------------------------------------------------------------------------------
# Typing cells


def label_text(value) -> str | None:
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
    if is_string_dtype(series.dtype) and not series.dtype == object:
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
        def clean(v):
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


# ---------------------------------------------------------------------------------------------
# Inference


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
        raise DataError(f"target column {target!r} is not in the data",
                        hint=(f"did you mean {close[0]!r}?" if close else
                              f"columns found: {preview(columns, 12)}; pass --target COLUMN"))
    guesses = [c for c in columns if c.lower() in TARGET_GUESSES]
    if len(guesses) == 1:
        return guesses[0]
    raise UsageError("no target column given and none could be recognised"
                     + (f" (several candidates: {preview(guesses)})" if guesses else ""),
                     hint="pass --target COLUMN or set target in the [data] section of churnctl.toml")


def resolve_positive(labels: list[str], positive: str | None, target: str) -> tuple[str, str]:
    """(positive, negative) among exactly two distinct label texts."""
    if len(labels) < 2:
        raise DataError(f"target column {target!r} has only one class ({preview(labels)})",
                        hint="a churn model needs rows of both churned and retained customers")
    if len(labels) > 2:
        raise DataError(f"target column {target!r} has {len(labels)} distinct values "
                        f"({preview(labels)}); expected exactly two classes",
                        hint="map the target to two values (churned / not churned) before ingesting")
    if positive is not None:
        wanted = label_text(positive)
        match = [v for v in labels if v == wanted] or [v for v in labels if wanted and v.lower() == wanted.lower()]
        if not match:
            raise DataError(f"--positive {positive!r} is not a value of target {target!r}",
                            hint=f"the target's values are {preview(labels)}")
        pos = match[0]
    else:
        pos_hits = [v for v in labels if v.lower() in POSITIVE_LABELS]
        neg_hits = [v for v in labels if v.lower() in NEGATIVE_LABELS]
        if len(pos_hits) == 1 and pos_hits[0] not in neg_hits:
            pos = pos_hits[0]
        elif len(neg_hits) == 1:
            pos = next(v for v in labels if v != neg_hits[0])
        else:
            raise DataError(f"cannot tell which value of target {target!r} means churn: {preview(labels)}",
                            hint="pass --positive VALUE (the label of churned customers)")
    neg = next(v for v in labels if v != pos)
    return pos, neg


def _numeric_stats(values: np.ndarray) -> dict:
    present = values[~np.isnan(values)]
    return {"minimum": float(present.min()), "maximum": float(present.max()),
            "mean": float(present.mean()), "std": float(present.std(ddof=1)) if len(present) > 1 else 0.0}


# A text column whose cells are numbers except for at most this share is numeric with a few bad
# cells (read as missing, and reported), not a categorical column of numbers.
MAX_BAD_NUMERIC_SHARE = 0.05


def _infer_column(name: str, series: pd.Series, warnings: list[str]) -> tuple[ColumnSpec, pd.Series]:
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype):
        return ColumnSpec(name=name, role="ignored", reason="date/time column (derive features from it first)",
                          missing_rate=float(series.isna().mean()) if n else 0.0), series
    values, bad = to_number(series)
    n_bad, n_present = int(bad.sum()), int((~np.isnan(values)).sum()) + int(bad.sum())
    if 0 < n_bad <= MAX_BAD_NUMERIC_SHARE * n_present and n_present - n_bad >= MIN_ROWS_FOR_UNIQUENESS:
        examples = ", ".join(f"{series.iloc[i]!s:.20} (row {i + 1})" for i in np.flatnonzero(bad)[:3])
        warnings.append(f"column {name!r} is numeric but {n_bad} cell(s) are not numbers and were read as "
                        f"missing: {examples}{' …' if n_bad > 3 else ''}")
        bad = np.zeros_like(bad)
    if not bad.any():
        present = values[~np.isnan(values)]
        typed = pd.Series(values, index=series.index, name=name)
        spec = ColumnSpec(name=name, role="feature", dtype="number",
                          missing_rate=float(1 - len(present) / n) if n else 0.0,
                          n_unique=int(len(np.unique(present))))
        if spec.n_unique == 0:
            spec.role, spec.reason = "ignored", "all values missing"
        elif spec.n_unique == 1:
            spec.role, spec.reason = "ignored", "constant (one distinct value)"
        elif (spec.n_unique == len(present) and np.all(present == np.round(present))
              and len(present) >= 2
              and (_looks_like_id(name) or (len(present) >= MIN_ROWS_FOR_UNIQUENESS
                                            and bool(np.all(np.diff(present) > 0))))):
            spec.role, spec.reason = "identifier", "unique integer per row"
        else:
            spec.kind = "binary" if spec.n_unique == 2 else "numeric"
            spec.__dict__.update(_numeric_stats(values))
        return spec, typed

    text = to_text(series)
    counts = text.value_counts(dropna=True)
    n_present = int(counts.sum())
    spec = ColumnSpec(name=name, role="feature", dtype="string",
                      missing_rate=float(1 - n_present / n) if n else 0.0, n_unique=int(len(counts)))
    if spec.n_unique == 0:
        spec.role, spec.reason = "ignored", "all values missing"
    elif spec.n_unique == 1:
        spec.role, spec.reason = "ignored", "constant (one distinct value)"
    elif spec.n_unique == n_present and (n_present >= MIN_ROWS_FOR_UNIQUENESS or _looks_like_id(name)):
        spec.role, spec.reason = "identifier", "unique text per row"
    elif n_present >= MIN_ROWS_FOR_UNIQUENESS and spec.n_unique > 0.5 * n_present:
        spec.role, spec.reason = "ignored", f"free text ({spec.n_unique} distinct values in {n_present} rows)"
    elif spec.n_unique > MAX_CATEGORIES and spec.n_unique > 0.05 * n_present:
        spec.role, spec.reason = "ignored", (f"high-cardinality text ({spec.n_unique} distinct values, "
                                             f"more than {MAX_CATEGORIES})")
    else:
        spec.kind = "binary" if spec.n_unique == 2 else "categorical"
        spec.categories = {str(k): int(v) for k, v in counts.items()}
    return spec, text


def infer_schema(frame: pd.DataFrame, target: str | None, positive: str | None) -> InferredData:
    """Infer the contract of a raw table and return it with the typed, labelled rows."""
    target = resolve_target_name(list(frame.columns), target)
    labels_text = to_text(frame[target])
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
            columns.append(ColumnSpec(name=name, role="target", kind="binary", dtype="number",
                                      n_unique=2, categories={pos: int((labels_text == pos).sum()),
                                                              neg: int((labels_text == neg).sum())}))
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
        raise DataError("no usable feature column: every column is the target, an identifier or excluded",
                        hint=f"excluded: {', '.join(excluded[:8]) or 'none'}")
    typed[target] = (labels_text == pos).astype("int8")
    return InferredData(schema=schema, frame=pd.DataFrame(typed)[[c.name for c in columns if c.name in typed]],
                        n_unlabelled=int((~labelled).sum()), warnings=warnings)


def refresh_statistics(schema: Schema, frame: pd.DataFrame) -> Schema:
    """The same contract (roles, kinds, labels) with what training saw recomputed on ``frame``
    (typed model input): categories and counts, ranges, missing rates. Used when new labelled data
    join the training rows, so that the challenger knows the categories they bring."""
    import copy

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
                spec.n_unique = int(len(np.unique(values[~np.isnan(values)])))
    return updated


# ---------------------------------------------------------------------------------------------
# Enforcement


def _row_list(mask: np.ndarray, offset: int, limit: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(int(r) + 1 + offset) for r in rows[:limit])
    return shown + (f" (+{len(rows) - limit} more)" if len(rows) > limit else "")


def prepare_features(frame: pd.DataFrame, schema: Schema, *, source: str = "input",
                     row_offset: int = 0) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Check ``frame`` against the schema; return (model input, unseen categories).

    Missing feature columns and cells of the wrong type raise :class:`DataError` naming them; rows
    are numbered from 1 (the first data row, header excluded) plus ``row_offset``. Categories never
    seen in training are kept (the model scores them as unknown) and returned as
    ``{column: {value: rows}}`` for the caller to report. Extra columns are ignored.
    """
    missing = [n for n in schema.feature_names if n not in frame.columns]
    if missing:
        raise DataError(f"{source} lacks {len(missing)} feature column(s) the model needs: {preview(missing)}",
                        hint="add the missing columns (blank values are allowed) and run again")
    unseen: dict[str, dict[str, int]] = {}
    out: dict[str, object] = {}
    for spec in schema.features:
        series = frame[spec.name]
        if spec.dtype == "number":
            values, bad = to_number(series)
            if bad.any():
                first = series.iloc[int(np.flatnonzero(bad)[0])]
                first = first if isinstance(first, (str, dict, list)) else str(first)
                raise DataError(f"{source}: column {spec.name!r} expects numbers, found {first!r} "
                                f"in row {_row_list(bad, row_offset)}",
                                hint="fix or blank out those cells; blank cells are read as missing")
            out[spec.name] = values
        else:
            if series.dtype == object:
                nested = series.map(lambda v: isinstance(v, (dict, list))).to_numpy(dtype=bool)
                if nested.any():
                    raise DataError(f"{source}: column {spec.name!r} expects a category (text or number), found "
                                    f"{series.iloc[int(np.flatnonzero(nested)[0])]!r} in row "
                                    f"{_row_list(nested, row_offset)}")
            text = to_text(series)
            new = text.notna() & ~text.isin(set(spec.categories or ()))
            if new.any():
                unseen[spec.name] = {str(k): int(v) for k, v in text[new].value_counts().items()}
            out[spec.name] = text.to_numpy(dtype=object)
    return pd.DataFrame(out, index=frame.index), unseen


def merge_unseen(total: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> None:
    for column, counts in more.items():
        bucket = total.setdefault(column, {})
        for value, rows in counts.items():
            bucket[value] = bucket.get(value, 0) + rows


def unseen_warnings(unseen: dict[str, dict[str, int]], source: str = "input") -> list[str]:
    messages = []
    for column, counts in sorted(unseen.items()):
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"{v!r} ({c} row{'s' if c > 1 else ''})" for v, c in ordered[:5])
        more = f" (+{len(ordered) - 5} more)" if len(ordered) > 5 else ""
        messages.append(f"{source}: column {column!r} has categories never seen in training: "
                        f"{listed}{more}; scored as unknown")
    return messages


def encode_target(series: pd.Series, schema: Schema, *, source: str = "input") -> tuple[np.ndarray, np.ndarray]:
    """(labels as 0/1 int8, mask of labelled rows) using the recorded positive and negative labels."""
    text = to_text(series)
    present = text.notna().to_numpy()
    known = {schema.positive_label, schema.negative_label}
    unknown = present & ~text.isin(known).to_numpy()
    if unknown.any():
        raise DataError(f"{source}: target {schema.target!r} has values the model does not know: "
                        f"{preview(set(text[unknown]))}",
                        hint=f"expected {schema.positive_label!r} (churn) or {schema.negative_label!r}")
    return (text == schema.positive_label).to_numpy().astype("int8"), present
