"""What training saw, one batch at a time: mergeable statistics of typed columns.

A :class:`ColumnTally` counts one typed column (numbers or category text) batch by batch — rows,
missing cells, the numbers' count, exact sum and sum of squares (integers, :func:`exact_sums`: any
order or cut of the rows gives the same mean and spread to the last bit), range, whether all are whole, their
distinct values (exact up to :data:`MAX_DISTINCT`, beyond which only "more than" is known), and the
categories with their counts. Tallies of parts merge (:meth:`ColumnTally.merge`), so statistics of a
table too large for memory, or spread over the workers of a cluster, are exact. :class:`SchemaTally`
holds one per feature and writes them into a :class:`~churnctl.contract.schema.Schema`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from churnctl.contract.schema import Schema

# Distinct numbers kept per column to count them exactly (8 bytes each); a column with more is
# recorded as having this many (a continuous measurement: the figure is only shown, never used).
MAX_DISTINCT = 100_000


_SCALE1, _SCALE2 = 1200, 2400  # sums of numbers and of their squares, as integers in units of 2**-SCALE
_LIMB = 1 << 20  # rows summed at a time in int64 (every partial sum stays far below 2**63)


def exact_sums(values: np.ndarray) -> tuple[int, int]:
    """(sum of ``values``, sum of their squares), exactly, as integers in units of 2**-1200 and
    2**-2400: each finite double is an integer mantissa times a power of two, and mantissas are added
    in int64 pieces per exponent. Exact sums make the mean and the spread the same to the last bit
    whatever order or cut the rows come in (a floating sum is not)."""
    s1 = s2 = 0
    for start in range(0, len(values), _LIMB):
        mantissa, exponent = np.frexp(values[start : start + _LIMB])
        m = (mantissa * 2.0**53).astype(np.int64)  # exact: |m| < 2**53
        order = np.argsort(exponent.astype(np.int16), kind="stable")  # a radix sort
        m, exponent = m[order], exponent[order]
        starts = np.flatnonzero(np.r_[True, exponent[1:] != exponent[:-1]])
        hi, lo = m >> 26, m & ((1 << 26) - 1)  # m = hi * 2**26 + lo
        a = np.abs(m)
        limbs = (a >> 36, (a >> 18) & 0x3FFFF, a & 0x3FFFF)  # |m| = x * 2**36 + y * 2**18 + z
        x, y, z = limbs
        square_terms = ((x * x, 72), (2 * x * y, 54), (y * y + 2 * x * z, 36), (2 * y * z, 18), (z * z, 0))
        sums_hi, sums_lo = np.add.reduceat(hi, starts), np.add.reduceat(lo, starts)
        sums_sq = [(np.add.reduceat(t, starts), shift) for t, shift in square_terms]
        for g, e in enumerate(exponent[starts].tolist()):
            s1 += ((int(sums_hi[g]) << 26) + int(sums_lo[g])) << (e - 53 + _SCALE1)
            squares = sum(int(t[g]) << shift for t, shift in sums_sq)
            s2 += squares << (2 * e - 106 + _SCALE2)
    return s1, s2


@dataclass
class ColumnTally:
    """Mergeable statistics of one typed column (see the module's docstring)."""

    text: bool  # categories (text) rather than numbers
    rows: int = 0
    missing: int = 0
    count: int = 0  # present numbers
    s1: int = 0  # their exact sum (see exact_sums)
    s2: int = 0  # the exact sum of their squares
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
        s1, s2 = exact_sums(present)
        other = ColumnTally(
            text=False,
            count=len(present),
            s1=s1,
            s2=s2,
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
        self.count += other.count
        self.s1 += other.s1
        self.s2 += other.s2
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.integer = self.integer and other.integer
        if self.distinct is not None and other.distinct is not None:
            union = np.union1d(self.distinct, other.distinct)
            self.distinct = union if len(union) <= MAX_DISTINCT else None
        else:
            self.distinct = None

    @property
    def mean(self) -> float:
        return float(Fraction(self.s1, (1 << _SCALE1) * self.count)) if self.count else float("nan")

    @property
    def std(self) -> float:
        """The sample standard deviation (n - 1), from the exact sums: rounded once."""
        n = self.count
        if n < 2:
            return 0.0
        return math.sqrt(float(Fraction(self.s2 * n - self.s1 * self.s1, (1 << _SCALE2) * n * (n - 1))))

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
            spec.minimum, spec.maximum, spec.mean, spec.std = self.minimum, self.maximum, self.mean, self.std
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
