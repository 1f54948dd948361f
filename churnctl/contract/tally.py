"""What training saw, one batch at a time: mergeable statistics of typed columns.

A :class:`ColumnTally` counts one typed column (numbers or category text) batch by batch — rows,
missing cells, the numbers' count, mean and sum of squared deviations (merged by Chan's formula, so
any cut of the rows gives the same figures up to rounding), range, whether all are whole, their
distinct values (exact up to :data:`MAX_DISTINCT`, beyond which only "more than" is known), and the
categories with their counts. Tallies of parts merge (:meth:`ColumnTally.merge`), so statistics of a
table too large for memory, or spread over the workers of a cluster, are exact. :class:`SchemaTally`
holds one per feature and writes them into a :class:`~churnctl.contract.schema.Schema`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.schema import Schema

# Distinct numbers kept per column to count them exactly (8 bytes each); a column with more is
# recorded as having this many (a continuous measurement: the figure is only shown, never used).
MAX_DISTINCT = 1_000_000


@dataclass
class ColumnTally:
    """Mergeable statistics of one typed column (see the module's docstring)."""

    text: bool  # categories (text) rather than numbers
    rows: int = 0
    missing: int = 0
    count: int = 0  # present numbers
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    minimum: float = np.inf
    maximum: float = -np.inf
    integer: bool = True
    distinct: np.ndarray | None = field(default_factory=lambda: np.empty(0))  # None: more than MAX_DISTINCT
    categories: dict[str, int] = field(default_factory=dict)

    def update(self, series: pd.Series) -> None:
        """Count one batch of the column, typed as the contract types it (numbers, or text with NaN)."""
        self.rows += len(series)
        if self.text:
            counts = series.value_counts(dropna=True)
            self.missing += len(series) - int(counts.sum())
            for key, n in counts.items():
                self.categories[str(key)] = self.categories.get(str(key), 0) + int(n)
            return
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        present = values[~np.isnan(values)]
        self.missing += len(values) - len(present)
        if not len(present):
            return
        mean = float(present.mean())
        other = ColumnTally(
            text=False,
            count=len(present),
            mean=mean,
            m2=float(((present - mean) ** 2).sum()),
            minimum=float(present.min()),
            maximum=float(present.max()),
            integer=bool(np.all(present == np.round(present))),
            distinct=np.unique(present),
        )
        self._merge_numbers(other)

    def merge(self, other: ColumnTally) -> None:
        """Add the tally of other rows of the same column."""
        self.rows += other.rows
        self.missing += other.missing
        if self.text:
            for key, n in other.categories.items():
                self.categories[key] = self.categories.get(key, 0) + n
        elif other.count:
            self._merge_numbers(other)

    def _merge_numbers(self, other: ColumnTally) -> None:
        total = self.count + other.count
        delta = other.mean - self.mean
        self.m2 += other.m2 + delta * delta * self.count * other.count / total
        self.mean += delta * other.count / total
        self.count = total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.integer = self.integer and other.integer
        if self.distinct is not None and other.distinct is not None:
            union = np.union1d(self.distinct, other.distinct)
            self.distinct = union if len(union) <= MAX_DISTINCT else None
        else:
            self.distinct = None

    @property
    def n_unique(self) -> int:
        if self.text:
            return len(self.categories)
        return MAX_DISTINCT if self.distinct is None else len(self.distinct)

    def write_into(self, spec) -> None:  # type: ignore[no-untyped-def]  # a ColumnSpec
        """Set a feature's training statistics (missing rate, distinct values, categories or range)."""
        spec.missing_rate = float(self.missing / self.rows) if self.rows else 0.0
        spec.n_unique = self.n_unique
        if self.text:
            spec.categories = dict(sorted(self.categories.items(), key=lambda kv: (-kv[1], kv[0])))
        elif self.count:
            spec.minimum, spec.maximum, spec.mean = self.minimum, self.maximum, self.mean
            spec.std = float(np.sqrt(self.m2 / (self.count - 1))) if self.count > 1 else 0.0
            spec.integer = self.integer


@dataclass
class SchemaTally:
    """A tally per feature of a schema (typed model input, batch by batch)."""

    columns: dict[str, ColumnTally]

    @classmethod
    def of(cls, schema: Schema) -> SchemaTally:
        return cls({spec.name: ColumnTally(text=spec.dtype == "string") for spec in schema.features})

    def update(self, frame: pd.DataFrame) -> None:
        for name, tally in self.columns.items():
            tally.update(frame[name])

    def merge(self, other: SchemaTally) -> None:
        for name, tally in self.columns.items():
            tally.merge(other.columns[name])

    def apply(self, schema: Schema) -> Schema:
        """A copy of ``schema`` whose features carry these statistics."""
        updated = copy.deepcopy(schema)
        for spec in updated.features:
            if spec.name in self.columns:
                self.columns[spec.name].write_into(spec)
        return updated
