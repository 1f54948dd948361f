"""The data contract without pandas: :class:`Schema` and :class:`ColumnSpec` (:mod:`churnctl.contract.values`
adds the typing of pandas columns) and the canonical text of a single category value. The fast
scorer of ``predict --json`` types JSON rows with these alone."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from churnctl.errors import ArtifactError

SCHEMA_FORMAT = 1


@dataclass
class ColumnSpec:
    name: str
    role: str  # feature | target | identifier | ignored | leak | group | time
    kind: str | None = None  # numeric | binary | categorical (features and target)
    dtype: str | None = None  # number | string: how the model receives the column
    missing_rate: float = 0.0
    n_unique: int = 0
    categories: dict[str, int] | None = None  # string features: training counts per category
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    reason: str | None = None  # why an identifier, ignored or leaked column is excluded
    alone_auc: float | None = None  # ROC-AUC of the column alone on the training split (the leak guard's)
    kept: bool = False  # kept as a feature by --keep-column, whatever the guards said
    integer: bool = False  # a number column whose training values are all whole numbers (an age, a count)


@dataclass
class Schema:
    target: str
    positive_label: str
    negative_label: str
    columns: list[ColumnSpec] = field(default_factory=list)
    id_column: str | None = None
    format: int = SCHEMA_FORMAT
    group_column: str | None = None  # rows of one group (customer) stay on one side of the split and in one fold
    time_column: str | None = None  # splits and folds go forward in time

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


# Numbers this large make models overflow (scaling squares them): a data error in every command.
MAX_ABS_VALUE = 1e150

# Infinity spelled out in a cell ("inf", "-Infinity"): a missing value in every command.
INFINITY = re.compile(r"[+-]?(?i:inf|infinity)")

_DECIMAL_INTEGER = re.compile(r"([+-]?)0*(\d+)\.0*")


def canonical_label(text: str) -> str:
    """A target label as every command compares it: one written as an integer-valued decimal
    ("1.0", as pandas writes an integer column that has blanks) is that integer ("1"), as text (no
    conversion to a number, whose length Python limits)."""
    match = _DECIMAL_INTEGER.fullmatch(text)
    if match is None:
        return text
    sign, digits = match.groups()
    return ("-" if sign == "-" and digits != "0" else "") + digits


def label_text(value: object) -> str | None:
    """Canonical text of a label or category: None for missing, '1' for 1 and 1.0.

    :func:`churnctl.contract.values.label_text` is this function plus pandas' own missing value.
    """
    if value is None:
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
