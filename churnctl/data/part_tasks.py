"""Ingest of tables larger than memory: the per-part passes, on any engine.

An input of more rows than ``[data] memory_rows`` is never held whole. Each pass is a task on one
part (a file of the input) whose result is small and merges with the other parts' in part order, so
the local engine (one part after the other, in this process) and a Dask cluster (parts on the
workers) give the same dataset:

1. :func:`survey_part`: the part's SHA-256, its rows whose seeded content hash falls below the
   sampling rate (a uniform sample of about :data:`SAMPLE_ROWS` rows over the whole input, fixed by
   the rows themselves, not by how they are cut into files), and with a time column, the labelled
   rows per distinct time. The contract's roles and kinds are inferred on the sample; the split's
   cut-off in time comes from the exact counts.
2. :func:`identifier_part` (only when an identifier might repeat): the distinct values of the
   identifier columns, to tell a customer id that repeats (monthly snapshots: the group) from one
   that does not.
3. :func:`write_part`: the part typed by the contract, each row's side of the split decided by the row
   alone (out of time: its time against the cut-off; otherwise a seeded hash of its group, or of its
   content, so that identical twins and a customer's rows stay together), written as Parquet parts
   into the staged dataset; what comes back is the exact statistics of its features (mergeable
   :class:`~churnctl.contract.tally.SchemaTally`), its class counts per side, and per row a 64-bit
   hash of its content and one of its features and label (duplicates are counted exactly from
   these, and the dataset id is the SHA-256 of the sorted content hashes: the same rows give the
   same id in any order, from any cut into parts).

Workers write into the staging folder of the registry, which must therefore be on storage they share
with the client (a local cluster always does); the client alone merges, checks and publishes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from churnctl.contract.inference import time_column, type_rows
from churnctl.contract.schema import Schema
from churnctl.contract.tally import SchemaTally
from churnctl.contract.values import to_label, to_text
from churnctl.data import tables
from churnctl.data.datasets import SplitWriter
from churnctl.data.sources import Part
from churnctl.data.split import (
    duplicate_keys,
    hash_unit,
    hashed_test_rows,
    merge_counts,
    text_keys,
)
from churnctl.errors import DataError, preview
from churnctl.registry.files import Staged

SAMPLE_ROWS = 200_000  # rows the contract is inferred on and the leak guard measured on
BATCH_ROWS = 200_000  # rows typed at a time
_CONTENT_KEY = "churnctl-rows-01"  # hash key (16 characters) of the rows' content hashes


def _part_header(part: Part, path: str, expected: list[str]) -> None:
    header = tables.read_header(path)
    if header != expected:
        raise DataError(
            f"{part.name} has other columns than the first part ({preview(expected, 6)})",
            hint="give every part the same columns in the same order",
        )


def _batches(part: Part, path: str, header: list[str], columns: list[str] | None = None) -> Any:
    _part_header(part, path, header)
    return tables.iter_table(path, columns=columns, batch_rows=BATCH_ROWS)


def sample_keys(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per raw row, fixed by its cells and the seed."""
    return hash_unit(pd.util.hash_pandas_object(frame, index=False).to_numpy(), seed)


# ---------------------------------------------------------------------------------------------
# Pass 1: checksums, the sample, the times


@dataclass
class SurveyJob:
    header: list[str]
    target: str
    time: str | None
    rate: float  # the share of rows sampled
    seed: int


@dataclass
class Survey:
    sha256: str
    n_rows: int
    sample: pd.DataFrame
    sample_keys: np.ndarray
    times: tuple[np.ndarray, np.ndarray] | None  # distinct times of the labelled rows, rows per time


def survey_part(part: Part, offset: int, job: SurveyJob) -> Survey:
    del offset
    with part.local() as path:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
        rows, samples, keys = 0, [], []
        times: tuple[np.ndarray, np.ndarray] | None = None
        for batch in _batches(part, path, job.header):
            rows += len(batch)
            unit = sample_keys(batch, job.seed)
            chosen = unit < job.rate
            if chosen.any():
                samples.append(batch.loc[chosen])
                keys.append(unit[chosen])
            if job.time:
                labelled = to_label(batch[job.target]).notna().to_numpy()
                values = time_column(job.time, batch.loc[labelled, job.time])[1].to_numpy()
                counted = np.unique(values, return_counts=True)
                times = counted if times is None else merge_counts(times, counted)
    sample = pd.concat(samples, ignore_index=True) if samples else pd.DataFrame(columns=job.header)
    return Survey(digest.hexdigest(), rows, sample, np.concatenate(keys) if keys else np.empty(0), times)


def merge_surveys(
    surveys: list[Survey], header: list[str]
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray] | None]:
    """The sample of every part (in the order of its rows' hashes: the same whatever the cut into
    parts) and the merged time counts."""
    frames = [s.sample for s in surveys if len(s.sample)]
    sample = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=header)
    if len({tuple(str(t) for t in f.dtypes) for f in frames}) > 1:  # CSV text beside Parquet types
        sample = pd.concat([f.astype(object) for f in frames], ignore_index=True)
    keys = np.concatenate([s.sample_keys for s in surveys])
    sample = sample.iloc[np.argsort(keys, kind="stable")].reset_index(drop=True)
    times = None
    for survey in surveys:
        if survey.times is not None:
            times = survey.times if times is None else merge_counts(times, survey.times)
    return sample, times


def sample_rate(n_rows: int) -> float:
    return min(1.0, SAMPLE_ROWS / max(n_rows, 1))


# ---------------------------------------------------------------------------------------------
# Pass 2: do identifiers repeat?


@dataclass
class IdentifierJob:
    header: list[str]
    target: str
    columns: list[str]


@dataclass
class IdentifierValues:
    distinct: dict[str, np.ndarray]  # per column: the distinct hashes of its values
    present: dict[str, int]  # per column: labelled rows with a value


def identifier_part(part: Part, offset: int, job: IdentifierJob) -> IdentifierValues:
    del offset
    distinct = {c: np.empty(0, dtype=np.uint64) for c in job.columns}
    present = dict.fromkeys(job.columns, 0)
    with part.local() as path:
        for batch in _batches(part, path, job.header, [job.target, *job.columns]):
            labelled = to_label(batch[job.target]).notna().to_numpy()
            for name in job.columns:
                text = to_text(batch.loc[labelled, name]).dropna()
                present[name] += len(text)
                distinct[name] = np.union1d(distinct[name], text_keys(text))
    return IdentifierValues(distinct, present)


def repeating_identifiers(found: list[IdentifierValues], columns: list[str]) -> list[str]:
    """The identifier columns one of whose values is on more than one labelled row."""
    repeating = []
    for name in columns:
        present = sum(f.present[name] for f in found)
        if any(len(f.distinct[name]) < f.present[name] for f in found):  # a repeat within one part
            repeating.append(name)
            continue
        hashes = np.concatenate([f.distinct[name] for f in found])
        for f in found:  # the parts' own copies are not needed any more
            f.distinct[name] = np.empty(0, dtype=np.uint64)
        hashes.sort()  # in place: one copy of the hashes at a time
        distinct = int((hashes[1:] != hashes[:-1]).sum()) + 1 if len(hashes) else 0
        del hashes
        if distinct < present:
            repeating.append(name)
    return repeating


# ---------------------------------------------------------------------------------------------
# Pass 3: type, split and write


@dataclass
class SplitRule:
    """Which side of the split a typed row is on, decided by the row alone."""

    seed: int
    test_size: float
    group: str | None = None  # rows of one value together (hash of the value)
    time: str | None = None  # rows at or after the cut-off are test rows
    cutoff: Any = None
    columns: list[str] = field(default_factory=list)  # a row's content: its features and label

    def test_rows(self, typed: pd.DataFrame, twins: np.ndarray) -> np.ndarray:
        if self.time is not None:
            return (typed[self.time].to_numpy() >= self.cutoff).astype(bool)
        keys = text_keys(typed[self.group]) if self.group is not None else twins
        return hashed_test_rows(keys, self.seed, self.test_size)

    def describe(self) -> str:
        if self.time is not None:
            return "out of time"
        return "grouped" if self.group is not None else "hashed random"


@dataclass
class WriteJob:
    header: list[str]
    schema: Schema  # roles after the leak guard; suspected leaks are typed (for the content) but not stored
    rule: SplitRule
    staged: Staged
    dropped: list[str]  # suspected leaks: not stored


@dataclass
class Written:
    files: dict[str, str]  # name -> SHA-256
    train_parts: list[str]
    test_parts: list[str]
    n_rows: int
    n_unlabelled: int
    counts: dict[str, np.ndarray]  # "train"/"test": rows per class (0, 1)
    tally: SchemaTally
    content: np.ndarray  # a 64-bit hash per row of every typed column
    twins: np.ndarray  # a 64-bit hash per row of its features and label
    not_numbers: dict[str, int]


def content_keys(typed: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per typed row, of every column (in name order)."""
    return pd.util.hash_pandas_object(typed[sorted(typed.columns)], index=False, hash_key=_CONTENT_KEY).to_numpy()


def _prefix(part: Part) -> str:
    return hashlib.sha256(part.name.encode()).hexdigest()[:10]


def write_part(part: Part, offset: int, job: WriteJob) -> Written:
    del offset
    prefix = _prefix(part)
    writers = {side: SplitWriter(job.staged, f"{side}-{prefix}") for side in ("train", "test")}
    tally = SchemaTally.of(job.schema)
    counts = {side: np.zeros(2, dtype=np.int64) for side in writers}
    content: list[np.ndarray] = []
    twins: list[np.ndarray] = []
    not_numbers: dict[str, int] = {}
    rows = unlabelled = 0
    try:
        with part.local() as path:
            for batch in _batches(part, path, job.header):
                typed = type_rows(batch, job.schema)
                rows += len(batch)
                unlabelled += typed.n_unlabelled
                for name, n in typed.not_numbers.items():
                    not_numbers[name] = not_numbers.get(name, 0) + n
                frame = typed.frame
                content.append(content_keys(frame))
                keys = duplicate_keys(frame, job.rule.columns)
                twins.append(keys)
                test = job.rule.test_rows(frame, keys)
                tally.update(frame)
                y = frame[job.schema.target].to_numpy()
                stored = frame.drop(columns=job.dropped)
                for side, rows_mask in (("train", ~test), ("test", test)):
                    counts[side] += np.bincount(y[rows_mask], minlength=2)
                    if rows_mask.any():
                        writers[side].write(stored.loc[rows_mask].reset_index(drop=True))
        names = {side: writer.close() for side, writer in writers.items()}
        pa.default_memory_pool().release_unused()  # Arrow keeps freed buffers for reuse otherwise
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return Written(
        files={n: job.staged.files[n] for side in names for n in names[side]},
        train_parts=names["train"],
        test_parts=names["test"],
        n_rows=rows,
        n_unlabelled=unlabelled,
        counts=counts,
        tally=tally,
        content=np.concatenate(content) if content else np.empty(0, dtype=np.uint64),
        twins=np.concatenate(twins) if twins else np.empty(0, dtype=np.uint64),
        not_numbers=not_numbers,
    )


@dataclass
class Merged:
    """Every part's pass 3, merged in part order."""

    files: dict[str, str]
    train_parts: list[str]
    test_parts: list[str]
    n_unlabelled: int
    counts: dict[str, np.ndarray]
    tally: SchemaTally
    duplicates: int
    not_numbers: dict[str, int]
    digest: str

    @property
    def n_labelled(self) -> int:
        return int(self.counts["train"].sum() + self.counts["test"].sum())


def merge_written(written: list[Written], schema: Schema, header: list[str]) -> Merged:
    tally = SchemaTally.of(schema)
    counts = {side: np.zeros(2, dtype=np.int64) for side in ("train", "test")}
    not_numbers: dict[str, int] = {}
    files: dict[str, str] = {}
    for part in written:
        tally.merge(part.tally)
        files.update(part.files)
        for side in counts:
            counts[side] += part.counts[side]
        for name, n in part.not_numbers.items():
            not_numbers[name] = not_numbers.get(name, 0) + n
    twins = np.concatenate([w.twins for w in written])
    for part in written:  # the parts' own copies are not needed any more
        part.twins = np.empty(0, dtype=np.uint64)
    twins.sort()
    duplicates = int((twins[1:] == twins[:-1]).sum())
    del twins
    content = np.concatenate([w.content for w in written])
    for part in written:
        part.content = np.empty(0, dtype=np.uint64)
    content.sort()
    digest = hashlib.sha256(f"rows {len(content)}\n".encode())
    digest.update(("header " + json.dumps(header) + "\n").encode())
    digest.update(content.astype("<u8").tobytes())
    return Merged(
        files=files,
        train_parts=[n for w in written for n in w.train_parts],
        test_parts=[n for w in written for n in w.test_parts],
        n_unlabelled=sum(w.n_unlabelled for w in written),
        counts=counts,
        tally=tally,
        duplicates=int(duplicates),
        not_numbers=not_numbers,
        digest=digest.hexdigest(),
    )


def check_sides(counts: dict[str, np.ndarray], kind: str, source: str) -> None:
    """Both sides of the split need both classes (as :func:`churnctl.data.split.split_rows` checks)."""
    for side, name in (("train", "training"), ("test", "test")):
        found = counts[side]
        if found.min() < 1 or found.sum() < 2:
            raise DataError(
                f"the {kind} split of {source} leaves {found[1]} churned and {found[0]} retained customers in "
                f"the {name} rows; both splits need both classes",
                hint="use more rows, another --test-size, or (out of time) another --test-from",
            )
