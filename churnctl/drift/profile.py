"""Reference profiles and current-side accumulators.

A :class:`ReferenceProfile` summarises a model version's stored reference (an exact sample of its
training features, and the model's churn probabilities on its held-out test split) per feature:
numeric features as sorted distinct values with counts, categorical and binary ones as counts per
category. Accumulators summarise the current data in the same terms, one batch at a time, in
memory that does not grow with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.schema import ColumnSpec, Schema
from churnctl.contract.values import label_text
from churnctl.drift.stats import value_counts_at


@dataclass
class NumericReference:
    points: np.ndarray  # sorted distinct non-missing values
    counts: np.ndarray  # rows per point
    n_missing: int
    std: float

    @classmethod
    def from_values(cls, values: np.ndarray) -> NumericReference:
        values = np.asarray(values, dtype=float)
        present = values[~np.isnan(values)]
        points, counts = np.unique(present, return_counts=True)
        return cls(points, counts, int(len(values) - len(present)), float(present.std()) if len(present) else 0.0)

    @property
    def n_rows(self) -> int:
        return int(self.counts.sum()) + self.n_missing


@dataclass
class CategoricalReference:
    counts: dict[str, int]
    n_missing: int

    @property
    def n_rows(self) -> int:
        return int(sum(self.counts.values())) + self.n_missing


def _category_counts(values: np.ndarray) -> tuple[dict[str, int], int]:
    series = pd.Series(values)
    counts = series.value_counts(dropna=True)
    merged: dict[str, int] = {}
    for key, count in counts.items():
        text = label_text(key)
        if text is not None:  # value_counts left out missing values already
            merged[text] = merged.get(text, 0) + int(count)
    return merged, int(series.isna().sum())


def treats_as_categories(spec: ColumnSpec) -> bool:
    """Binary numeric features (0/1 flags) are compared as categories, like text features."""
    return spec.dtype == "string" or spec.kind == "binary"


@dataclass
class ReferenceProfile:
    features: dict[str, NumericReference | CategoricalReference]
    scores: NumericReference  # the model's churn probabilities on held-out reference rows
    n_rows: int

    @classmethod
    def build(cls, schema: Schema, reference: pd.DataFrame, scores: np.ndarray) -> ReferenceProfile:
        """``reference`` holds the model input columns (as prepared by ``prepare_features``)."""
        features: dict[str, NumericReference | CategoricalReference] = {}
        for spec in schema.features:
            values = reference[spec.name].to_numpy()
            if treats_as_categories(spec):
                counts, n_missing = _category_counts(values)
                features[spec.name] = CategoricalReference(counts, n_missing)
            else:
                features[spec.name] = NumericReference.from_values(values)
        return cls(features, NumericReference.from_values(scores), len(reference))


@dataclass
class NumericAccumulator:
    reference: NumericReference
    equal: np.ndarray = field(init=False)
    between: np.ndarray = field(init=False)
    between_sum: np.ndarray = field(init=False)
    n_missing: int = 0

    def __post_init__(self) -> None:
        k = len(self.reference.points)
        self.equal = np.zeros(k, dtype=np.int64)
        self.between = np.zeros(k + 1, dtype=np.int64)
        self.between_sum = np.zeros(k + 1)

    def update(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float)
        missing = np.isnan(values)
        self.n_missing += int(missing.sum())
        equal, between, between_sum = value_counts_at(self.reference.points, values[~missing])
        self.equal += equal
        self.between += between
        self.between_sum += between_sum

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The counts alone (no reference): what another process sends back to be merged."""
        return self.equal, self.between, self.between_sum, self.n_missing

    def merge(self, state: tuple[np.ndarray, np.ndarray, np.ndarray, int]) -> None:
        """Add the counts (:meth:`state`) of another part of the data, against the same reference."""
        equal, between, between_sum, n_missing = state
        self.equal += equal
        self.between += between
        self.between_sum += between_sum
        self.n_missing += n_missing

    @property
    def n_present(self) -> int:
        return int(self.equal.sum() + self.between.sum())

    @property
    def n_rows(self) -> int:
        return self.n_present + self.n_missing


@dataclass
class CategoricalAccumulator:
    reference: CategoricalReference
    counts: dict[str, int] = field(default_factory=dict)
    n_missing: int = 0

    def update(self, values: np.ndarray) -> None:
        counts, n_missing = _category_counts(values)
        self.n_missing += n_missing
        self.merge_counts(counts, n_missing=0)

    def merge_counts(self, counts: dict[str, int], n_missing: int) -> None:
        self.n_missing += n_missing
        for key, count in counts.items():
            self.counts[key] = self.counts.get(key, 0) + count

    def state(self) -> tuple[dict[str, int], int]:
        """The counts alone (no reference): what another process sends back to be merged."""
        return self.counts, self.n_missing

    def merge(self, state: tuple[dict[str, int], int]) -> None:
        """Add the counts (:meth:`state`) of another part of the data."""
        self.merge_counts(*state)

    @property
    def n_rows(self) -> int:
        return int(sum(self.counts.values())) + self.n_missing


class RowSample:
    """A uniform sample of a stream of rows: each row is kept with probability ``rate`` (``wanted``
    of ``expected_rows``; every row when either is 0 or unknown), the draws coming row by row from one
    seeded stream, so that the same rows are kept whatever the batch sizes."""

    STREAM = 0x5C0D  # the seed's second word: data simulated with numpy and the same seed must not line up

    def __init__(self, wanted: int, expected_rows: int | None, seed: int, skip: int = 0):
        """``skip``: rows before the first one this sample sees (a later part of the input): the stream
        is advanced past their draws, so every part keeps the rows one pass over the whole would."""
        self.rate = 1.0 if not wanted or not expected_rows else min(1.0, wanted / expected_rows)
        self._draws = None
        if self.rate < 1.0:
            bits = np.random.PCG64([seed, self.STREAM])  # what default_rng([seed, STREAM]) draws from
            bits.advance(skip)  # one 64-bit draw per row (Generator.random)
            self._draws = np.random.Generator(bits)

    def take(self, rows: int) -> np.ndarray | None:
        """Mask of the next ``rows`` rows kept; None when every row is."""
        return self._draws.random(rows) < self.rate if self._draws is not None else None


@dataclass
class MonitorState:
    """A monitor's counts (see :meth:`DriftMonitor.state`): every quantity is a count or a list in row
    order, so states merge by adding counts and concatenating lists, in part order."""

    n_rows: int
    n_scored: int
    accumulators: dict[str, tuple]
    scores: tuple
    unseen: dict[str, dict[str, int]]
    scored: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)  # customer values of the scored rows, with a campaign
    joint: Any = None  # the rows kept for the domain classifier (churnctl.drift.multivariate.JointSample)
