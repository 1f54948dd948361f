"""Dataset versions as tables: their content-addressed ids, the stratified train/test split, and
storing them into the registry and loading them back (Parquet splits and the schema; the
:class:`~churnctl.registry.store.Registry` knows folders, manifests, signatures and checksums)."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import churnctl
from churnctl.contract.schema import SCHEMA_FORMAT, Schema
from churnctl.errors import ArtifactError, DataError
from churnctl.registry import ids
from churnctl.registry.events import dataset_added_fields
from churnctl.registry.store import DATASET_FORMAT, Registry, now


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def dataset_id(
    checksum: str, target: str, positive: str, test_size: float, seed: int, options: dict[str, Any] | None = None
) -> str:
    """Content address of ingested rows: the same rows (``checksum``: their :func:`content_digest`) with
    the same options get the same id (``options``: the ingest options beyond these, only when they differ
    from their defaults)."""
    key = json.dumps(
        {
            "source": checksum,
            "target": target,
            "positive": positive,
            "test_size": test_size,
            "seed": seed,
            "dataset_format": DATASET_FORMAT,
            "schema_format": SCHEMA_FORMAT,
            **({"options": options} if options else {}),
        },
        sort_keys=True,
    )
    return ids.DATASET_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:12]


def content_digest(frame: pd.DataFrame, header: list[str] | None = None) -> str:
    """SHA-256 of a typed table's content, column by column in name order (numbers as little-endian
    doubles, times as nanoseconds, text as UTF-8, missing values marked): the same rows give the same
    digest whether they came from one CSV file, a folder of Parquet parts or a URL, however the files
    spelled their numbers. ``header``: the input's columns, so that a column left out of the typed rows
    (all missing, free text) still tells two inputs apart."""
    digest = hashlib.sha256(f"rows {len(frame)}\n".encode())
    if header is not None:  # every column of the input, those left out of the rows included
        digest.update(("header " + json.dumps([str(h) for h in header]) + "\n").encode())
    for name in sorted(frame.columns, key=str):
        column = frame[name]
        digest.update(f"column {name}\n".encode())
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype="float64", na_value=np.nan)
            values = np.where(np.isnan(values), np.nan, values + 0.0).astype("<f8")  # one NaN, one zero
            digest.update(values.tobytes())
        elif pd.api.types.is_datetime64_any_dtype(column):
            digest.update(column.to_numpy(dtype="datetime64[ns]").astype("<i8").tobytes())
        else:
            text = ["\x01" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v) for v in column]
            digest.update("\x00".join(text).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def derived_dataset_id(fields: dict[str, Any]) -> str:
    """Content address of a dataset built from others (a retrain's combined rows)."""
    return ids.DATASET_PREFIX + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def stratified_split(
    frame: pd.DataFrame, y: np.ndarray, test_size: float, seed: int, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows, stratified by the label, in their original order."""
    try:
        train_idx, test_idx = train_test_split(
            np.arange(len(frame)), test_size=test_size, stratify=y, random_state=seed
        )
    except ValueError as exc:
        raise DataError(
            f"cannot split {source} into train and test: {exc}", hint="use more labelled rows of both classes"
        ) from None
    return frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]


def store_dataset(
    registry: Registry,
    dataset: str,
    schema: Schema,
    train_frame: pd.DataFrame,
    test_frame: pd.DataFrame,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """Write a dataset version (the caller holds the lock) and log it; returns its signed manifest."""
    staged = registry.stage()
    staged.write("train.parquet", parquet_bytes(train_frame))
    staged.write("test.parquet", parquet_bytes(test_frame))
    staged.write("schema.json", json.dumps(schema.to_dict(), indent=2).encode())
    y = np.r_[train_frame[schema.target].to_numpy(), test_frame[schema.target].to_numpy()]
    manifest = {
        "dataset_id": dataset,
        "format": DATASET_FORMAT,
        "created": now(),
        "target": schema.target,
        "positive_label": schema.positive_label,
        "n_rows": len(y),
        "n_train": len(train_frame),
        "n_test": len(test_frame),
        "churn_rate": float(y.mean()),
        "churnctl_version": churnctl.__version__,
        **fields,
    }
    manifest = registry.publish_dataset(staged, dataset, manifest)
    registry.record("dataset_added", **dataset_added_fields(manifest))
    return manifest


def describe_source(manifest: dict[str, Any]) -> str:
    """Where a dataset's rows came from, in a few words."""
    if manifest.get("source") == "retrain":
        inputs = manifest.get("inputs")
        files = [str(i.get("path", "?")) for i in inputs if isinstance(i, dict)] if isinstance(inputs, list) else []
        added = f" + {', '.join(files)}" if files else ""
        return f"retrain: training rows of {manifest.get('base_dataset')}{added}"
    return str(manifest.get("source"))


def load_dataset(registry: Registry, dataset: str) -> tuple[Schema, pd.DataFrame, pd.DataFrame]:
    """Schema, training rows and test rows of a dataset version (signature and checksums checked)."""
    document = json.loads(registry.dataset_bytes(dataset, "schema.json"))
    if not isinstance(document, dict):
        raise ArtifactError(f"the schema of dataset {dataset} is not a JSON object")
    train = pd.read_parquet(io.BytesIO(registry.dataset_bytes(dataset, "train.parquet")))
    test = pd.read_parquet(io.BytesIO(registry.dataset_bytes(dataset, "test.parquet")))
    return Schema.from_dict(document), train, test
