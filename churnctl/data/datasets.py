"""Dataset versions as tables: their content-addressed ids, storing them into the registry (whole, or
part by part as a streamed ingest writes them) and loading them back (Parquet splits and the schema; the
:class:`~churnctl.registry.store.Registry` knows folders, manifests, signatures and checksums)."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import churnctl
from churnctl.contract.schema import SCHEMA_FORMAT, Schema
from churnctl.data.split import duplicate_keys, hash_unit, text_keys
from churnctl.errors import ArtifactError
from churnctl.registry import ids
from churnctl.registry.events import dataset_added_fields
from churnctl.registry.files import Staged
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


class ContentDigest:
    """SHA-256 of a typed table's content, fed batch by batch: each column's values in row order
    (numbers as little-endian doubles, times as nanoseconds, text as UTF-8, missing values marked)
    hashed apart, then the row count, the input's header and the columns' digests in name order. The
    same rows give the same digest whether they came from one CSV file, a folder of Parquet parts or
    a URL, however the files spelled their numbers, and however the rows are cut into batches.
    ``header``: the input's columns, so that a column left out of the typed rows (all missing, free
    text) still tells two inputs apart."""

    def __init__(self, header: list[str] | None = None):
        self.header = header
        self.rows = 0
        self.columns: dict[str, Any] = {}

    def update(self, frame: pd.DataFrame) -> ContentDigest:
        self.rows += len(frame)
        for name in frame.columns:
            self.columns.setdefault(str(name), hashlib.sha256()).update(_column_bytes(frame[name]))
        return self

    def hexdigest(self) -> str:
        digest = hashlib.sha256(f"rows {self.rows}\n".encode())
        if self.header is not None:  # every column of the input, those left out of the rows included
            digest.update(("header " + json.dumps([str(h) for h in self.header]) + "\n").encode())
        for name in sorted(self.columns):
            digest.update(f"column {name} {self.columns[name].hexdigest()}\n".encode())
        return digest.hexdigest()


def _column_bytes(column: pd.Series) -> bytes:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        values = np.where(np.isnan(values), np.nan, values + 0.0).astype("<f8")  # one NaN, one zero
        return values.tobytes()
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy(dtype="datetime64[ns]").astype("<i8").tobytes()
    text = ["\x01" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v) for v in column]
    return ("\x00".join(text) + "\x00").encode("utf-8", "surrogatepass")


def content_digest(frame: pd.DataFrame, header: list[str] | None = None) -> str:
    """:class:`ContentDigest` of a whole table."""
    return ContentDigest(header).update(frame).hexdigest()


def derived_dataset_id(fields: dict[str, Any]) -> str:
    """Content address of a dataset built from others (a retrain's combined rows)."""
    return ids.DATASET_PREFIX + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


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
    y = np.r_[train_frame[schema.target].to_numpy(), test_frame[schema.target].to_numpy()]
    counts = {"n_rows": len(y), "n_train": len(train_frame), "n_test": len(test_frame), "churn_rate": float(y.mean())}
    return publish_dataset(registry, staged, dataset, schema, {**counts, **fields})


def publish_dataset(
    registry: Registry, staged: Staged, dataset: str, schema: Schema, fields: dict[str, Any]
) -> dict[str, Any]:
    """Add the schema to a staged dataset whose splits are written, publish it and log it (the caller
    holds the lock); ``fields``: the row counts (n_rows, n_train, n_test, churn_rate) and the rest."""
    staged.write("schema.json", json.dumps(schema.to_dict(), indent=2).encode())
    manifest = {
        "dataset_id": dataset,
        "format": DATASET_FORMAT,
        "created": now(),
        "target": schema.target,
        "positive_label": schema.positive_label,
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


def split_files(manifest: dict[str, Any], split: str) -> list[str]:
    """The files of a dataset's ``split`` ("train" or "test"): one Parquet file, or the parts of a
    dataset ingested in streaming passes (``parts`` in its manifest)."""
    parts = manifest.get("parts")
    if isinstance(parts, dict) and isinstance(parts.get(split), list):
        return [str(name) for name in parts[split]]
    return [f"{split}.parquet"]


def iter_split(
    registry: Registry, dataset: str, split: str, columns: list[str] | None = None, batch_rows: int = 500_000
) -> Iterator[pd.DataFrame]:
    """The rows of a dataset's split in batches, one verified part in memory at a time."""
    manifest = registry.dataset_manifest(dataset)
    for name in split_files(manifest, split):
        handle = pq.ParquetFile(io.BytesIO(registry.dataset_bytes(dataset, name)))
        for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
            yield pa.Table.from_batches([batch]).to_pandas()


def sample_split(
    registry: Registry,
    dataset: str,
    split: str,
    rows: int,
    seed: int,
    group: str | None = None,
    target: str | None = None,
) -> pd.DataFrame:
    """A seeded sample of ``rows`` rows of a dataset's split, read part by part (never the whole
    split in memory), in stored order: the rows whose seeded hash — of their group, so that a group is
    kept or left whole, else of their content — is among the smallest. Without groups the sample is
    stratified by ``target``: each class keeps its share of the split (from the manifest's
    ``class_counts``, else from the candidates' own shares); with groups each class keeps about its
    share (the hash knows no label)."""
    manifest = registry.dataset_manifest(dataset)
    total = int(manifest.get(f"n_{split}", 0)) or rows
    rate = min(1.0, rows / total * 1.05 + 1000 / total)  # enough candidates to keep exactly ``rows``
    frames, units = [], []
    for batch in iter_split(registry, dataset, split):
        if group is not None and group in batch.columns:
            keys = text_keys(batch[group])
        else:
            keys = duplicate_keys(batch, list(batch.columns))
        unit = hash_unit(keys, seed)
        chosen = unit < rate
        frames.append(batch.loc[chosen])
        units.append(unit[chosen])
    found = np.concatenate(units)
    frame = pd.concat(frames, ignore_index=True)
    if len(found) <= rows:
        return frame
    if group is None and target is not None and target in frame.columns:
        labels = frame[target].to_numpy()
        counts = (manifest.get("class_counts") or {}).get(split)
        shares = np.asarray(counts, dtype=float) if counts else np.bincount(labels, minlength=2).astype(float)
        quota = np.round(rows * shares / shares.sum()).astype(int)
        quota[-1] = rows - quota[:-1].sum()
        keep = np.zeros(len(found), dtype=bool)
        for label, wanted in enumerate(quota):
            members = np.flatnonzero(labels == label)
            wanted = min(int(wanted), len(members))
            if wanted:
                cut = np.partition(found[members], wanted - 1)[wanted - 1]
                keep[members[found[members] <= cut]] = True
        return frame.loc[keep].reset_index(drop=True)
    return frame.loc[found <= np.partition(found, rows - 1)[rows - 1]].reset_index(drop=True)


def read_split(registry: Registry, dataset: str, split: str, manifest: dict[str, Any] | None = None) -> pd.DataFrame:
    """Every row of a dataset's split (its parts, verified, joined)."""
    manifest = manifest or registry.dataset_manifest(dataset)
    frames = [pd.read_parquet(io.BytesIO(registry.dataset_bytes(dataset, n))) for n in split_files(manifest, split)]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def tail_split(registry: Registry, dataset: str, split: str, rows: int) -> pd.DataFrame:
    """The last ``rows`` rows of a dataset's split, reading its parts from the last one back only until
    there are enough."""
    manifest = registry.dataset_manifest(dataset)
    frames: list[pd.DataFrame] = []
    held = 0
    for name in reversed(split_files(manifest, split)):
        if held >= rows and frames:
            break
        frames.insert(0, pd.read_parquet(io.BytesIO(registry.dataset_bytes(dataset, name))))
        held += len(frames[0])
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return frame.tail(rows).reset_index(drop=True)


def load_dataset(registry: Registry, dataset: str) -> tuple[Schema, pd.DataFrame, pd.DataFrame]:
    """Schema, training rows and test rows of a dataset version (signature and checksums checked)."""
    manifest = registry.dataset_manifest(dataset)
    return (
        load_schema(registry, dataset),
        read_split(registry, dataset, "train", manifest),
        read_split(registry, dataset, "test", manifest),
    )


def load_schema(registry: Registry, dataset: str) -> Schema:
    document = json.loads(registry.dataset_bytes(dataset, "schema.json"))
    if not isinstance(document, dict):
        raise ArtifactError(f"the schema of dataset {dataset} is not a JSON object")
    return Schema.from_dict(document)


# Rows per Parquet part of a dataset ingested in streaming passes.
PART_ROWS = 1_000_000


class SplitWriter:
    """The rows of one split written, as they come, into Parquet parts of at most ``part_rows`` rows
    (``train-00000.parquet`` …) of a staged dataset; the Arrow schema is the first batch's."""

    def __init__(self, staged: Staged, split: str, part_rows: int = PART_ROWS):
        self.staged, self.split, self.part_rows = staged, split, part_rows
        self.names: list[str] = []
        self.rows = 0
        self.schema: pa.Schema | None = None
        self._open: Any = None  # (context manager, writer) of the part being written
        self._in_part = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.schema is None:
            found = pa.Schema.from_pandas(frame, preserve_index=False)
            self.schema = pa.schema(
                [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in found]
            ).with_metadata(found.metadata)
        while len(frame):
            if self._open is None:
                name = f"{self.split}-{len(self.names):05d}.parquet"
                manager = self.staged.open(name)
                self._open = (manager, pq.ParquetWriter(manager.__enter__(), self.schema))
                self.names.append(name)
                self._in_part = 0
            piece, frame = frame.iloc[: self.part_rows - self._in_part], frame.iloc[self.part_rows - self._in_part :]
            self._open[1].write_table(pa.Table.from_pandas(piece, schema=self.schema, preserve_index=False))
            self._in_part += len(piece)
            self.rows += len(piece)
            if self._in_part >= self.part_rows:
                self._close_part()

    def _close_part(self) -> None:
        if self._open is not None:
            manager, writer = self._open
            self._open = None
            writer.close()
            manager.__exit__(None, None, None)

    def close(self) -> list[str]:
        """Finish the last part; the names of the parts written, in order."""
        self._close_part()
        return self.names

    def abort(self) -> None:
        """Close the open part after an error (the staged dataset is then discarded, never published)."""
        if self._open is not None:
            manager, writer = self._open
            self._open = None
            try:
                writer.close()
            finally:
                manager.__exit__(RuntimeError, RuntimeError("aborted"), None)
