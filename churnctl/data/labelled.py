"""Labelled rows to measure models on: a dataset's held-out test split or a labelled CSV/Parquet file."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.contract.frames import encode_target
from churnctl.contract.schema import Schema
from churnctl.data import tables
from churnctl.data.datasets import load_dataset
from churnctl.errors import DataError
from churnctl.registry import Registry


@dataclass
class LabelledRows:
    frame: pd.DataFrame
    y: np.ndarray  # 0/1
    described: str  # what the rows are, for reports: "test split of dataset ds-…" or the file's path
    warnings: list[str] = field(default_factory=list)


def labelled_rows(registry: Registry, schema: Schema, *, dataset_id: str, data: str | None = None) -> LabelledRows:
    """The test split of ``dataset_id``, or with ``data`` that file's labelled rows (rows without a
    label are left out, with a warning; labels are read with ``schema``'s positive label)."""
    if data is None:
        _, _, frame = load_dataset(registry, dataset_id)
        return LabelledRows(frame, frame[schema.target].to_numpy().astype(int), f"test split of dataset {dataset_id}")
    frame = tables.read_table(data)
    if len(frame) == 0:
        raise DataError(f"{data} has a header but no data rows")
    if schema.target not in frame.columns:
        raise DataError(
            f"{data} has no target column {schema.target!r}; measuring a model needs labelled rows",
            hint="use 'churnctl predict --input' to score unlabelled rows",
        )
    y, labelled = encode_target(frame[schema.target], schema, source=str(data))
    warnings = []
    if not labelled.all():
        warnings.append(f"{int((~labelled).sum())} row(s) without a label were left out")
        frame, y = frame.loc[labelled].reset_index(drop=True), y[labelled]
    if len(y) == 0:
        raise DataError(f"{data} has no labelled rows")
    return LabelledRows(frame, y.astype(int), str(data), warnings)
