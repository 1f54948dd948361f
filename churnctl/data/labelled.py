"""Labelled rows, read one way for every command that measures or learns: ``evaluate``, ``retrain``,
``drift-check`` (realised performance, when the batch carries the target) and ``models compare``.

:func:`iter_labelled` reads one part of an input (:class:`churnctl.data.sources.Part`) in batches:
the header is checked against the schema before any row is read, and each batch comes with its 0/1
labels and which rows have one, read with the schema's positive and negative labels (a value that
is neither is a data error naming it). :func:`read_labelled` gathers the labelled rows of a whole
input (a file, folder, glob or URL of parts), :func:`test_split` those of a dataset's test split, and
:class:`TestSplit` reads that split batch by batch, for the commands that score it whole (a streamed
dataset's test split can be larger than memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.frames import check_header, encode_target
from churnctl.contract.schema import Schema
from churnctl.data.datasets import iter_split, read_split
from churnctl.data.sources import Part, resolve
from churnctl.data.split import duplicate_keys
from churnctl.errors import DataError
from churnctl.registry import Registry

MEASURE_HINT = "use 'churnctl predict --input' to score unlabelled rows"


@dataclass
class LabelledBatch:
    """Consecutive rows of a part: their columns as read, 0/1 labels (0 where there is none), which rows
    carry a label, and how many rows of the part came before them."""

    frame: pd.DataFrame
    y: np.ndarray
    labelled: np.ndarray
    row_offset: int


def frame_labels(frame: pd.DataFrame, schema: Schema, source: str = "input") -> tuple[np.ndarray, np.ndarray]:
    """(0/1 labels, which rows carry one) of rows read with their columns: from the target column when
    the frame has it (a value that is neither label is a data error naming it), else none."""
    if schema.target in frame.columns:
        return encode_target(frame[schema.target], schema, source=source)
    return np.zeros(len(frame), dtype="int8"), np.zeros(len(frame), dtype=bool)


def iter_labelled(
    part: Part,
    schema: Schema,
    *,
    batch_rows: int = 100_000,
    require_target: bool = True,
    purpose: str = "measuring a model",
    hint: str = MEASURE_HINT,
    identifiers: bool = False,
    extra: tuple[str, ...] = (),
) -> Iterator[LabelledBatch]:
    """The rows of ``part`` with their labels, batch by batch: the features (and, with ``identifiers``,
    the identifier columns the part has, and the ``extra`` columns it has) and the target when the part
    has it. Without the target
    column, ``require_target`` makes that a data error saying what the rows were needed for
    (``purpose``); otherwise every row is unlabelled."""
    header = part.header()
    has_target = schema.target in header
    if require_target and not has_target:
        raise DataError(f"{part.name} has no target column {schema.target!r}; {purpose} needs labelled rows", hint=hint)
    check_header(header, schema, part.name)
    columns = list(schema.feature_names)
    if identifiers:
        columns += [n for n in schema.identifier_names if n in header]
    columns += [n for n in extra if n in header and n not in columns]
    if has_target:
        columns.append(schema.target)
    offset = 0
    for frame in part.batches(columns, batch_rows, schema.numeric_names):
        y, labelled = frame_labels(frame, schema, part.name)
        yield LabelledBatch(frame, y, labelled, offset)
        offset += len(frame)


@dataclass
class LabelledRows:
    frame: pd.DataFrame
    y: np.ndarray  # 0/1
    described: str  # what the rows are, for reports: "test split of dataset ds-…" or the input as given
    warnings: list[str] = field(default_factory=list)


def read_labelled(data: str, schema: Schema) -> LabelledRows:
    """The labelled rows of ``data`` (a file, folder, glob or URL of parts), in order; rows without a
    label are left out, with a warning."""
    frames, labels, n_rows, unlabelled = [], [], 0, 0
    for part in resolve(data).parts:
        with part.fetched() as local:
            for batch in iter_labelled(local, schema):
                frames.append(batch.frame.loc[batch.labelled])
                labels.append(batch.y[batch.labelled])
                n_rows += len(batch.frame)
                unlabelled += int((~batch.labelled).sum())
    if n_rows == 0:
        raise DataError(f"{data} has a header but no data rows")
    warnings = [f"{unlabelled} row(s) without a label were left out"] if unlabelled else []
    y = np.concatenate(labels).astype(int)
    if len(y) == 0:
        raise DataError(f"{data} has no labelled rows")
    return LabelledRows(pd.concat(frames, ignore_index=True), y, str(data), warnings)


def test_split(registry: Registry, dataset_id: str, schema: Schema) -> LabelledRows:
    """The held-out test split of a stored dataset, every row labelled, read whole (``models compare``
    scores it with two versions; :class:`TestSplit` reads it batch by batch)."""
    frame = read_split(registry, dataset_id, "test")
    return LabelledRows(frame, frame[schema.target].to_numpy().astype(int), f"test split of dataset {dataset_id}")


class TestSplit:
    """A stored dataset's test split read batch by batch (one part's batch in memory at a time): the
    batches, then how many of its rows have an identical twin among the training rows (counted from the
    rows' hashes kept while the batches were read, against the training rows batch by batch)."""

    def __init__(self, registry: Registry, dataset_id: str, schema: Schema, frame: pd.DataFrame | None = None):
        manifest = registry.dataset_manifest(dataset_id)
        self.registry, self.dataset_id, self.schema, self.frame = registry, dataset_id, schema, frame
        self.described = f"test split of dataset {dataset_id}"
        self.split: dict = manifest.get("split") or {"kind": "stratified random"}
        self.n_rows = len(frame) if frame is not None else int(manifest.get("n_test", 0))
        self._keys: list[np.ndarray] = []

    def batches(self) -> Iterator[pd.DataFrame]:
        """The rows in stored order (``frame``, when given, is the whole split already read)."""
        self._keys = []
        for batch in [self.frame] if self.frame is not None else iter_split(self.registry, self.dataset_id, "test"):
            self._keys.append(duplicate_keys(batch, self._columns(batch)))
            yield batch

    def twins(self) -> int:
        """After :meth:`batches`: the rows with an identical twin among the training rows."""
        keys = np.concatenate(self._keys) if self._keys else np.empty(0, dtype=np.uint64)
        found = np.zeros(len(keys), dtype=bool)
        for batch in iter_split(self.registry, self.dataset_id, "train"):
            found |= np.isin(keys, duplicate_keys(batch, self._columns(batch)))
        return int(found.sum())

    def _columns(self, batch: pd.DataFrame) -> list[str]:
        return [c for c in [*self.schema.feature_names, self.schema.target] if c in batch.columns]
