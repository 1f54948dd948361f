"""Reading the prediction log of ``churnctl serve --log-predictions`` (:mod:`churnctl.data.predlog`) as a
drift-check batch: every ``*.jsonl`` below a folder, record by record, skipping and counting what the
model cannot take."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.frames import prepare_features
from churnctl.contract.problems import InvalidRows
from churnctl.contract.schema import Schema
from churnctl.data.sources import SUFFIXES
from churnctl.errors import DataError, preview, shown

log = logging.getLogger(__name__)


def is_prediction_log(path: str | os.PathLike) -> bool:
    """One log file (``.jsonl``), or a folder with log files and no CSV/Parquet file (a folder of those
    is a partitioned input, :mod:`churnctl.data.sources`)."""
    path = Path(path)
    if str(path).lower().endswith(".jsonl"):
        return True
    if not path.is_dir():
        return False
    names = [p.name.lower() for p in path.rglob("*") if p.is_file()]
    return any(n.endswith(".jsonl") for n in names) and not any(n.endswith(SUFFIXES) for n in names)


MAX_BAD_SHARE = 0.05  # records that break the schema, beyond which a log is refused, not summarised


class PredictionLogReader:
    """The rows of one prediction log file or of every ``*.jsonl`` below a folder (in name order), as
    DataFrames of their inputs; a drift-check source like a CSV/Parquet file.

    A log is written by servers, over weeks, by several versions: one bad record must not hide the
    others. With a ``schema``, a record that lacks a feature or holds a value the schema refuses (text
    where a number belongs, a number too large to model, a list) is skipped and counted, as are lines
    that are not records; beyond :data:`MAX_BAD_SHARE` of the records, :meth:`check` refuses the log.
    With ``known_versions``, records answered by a version this registry never had are counted apart
    and left out of the statistics.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        probe_bytes: int = 1 << 20,
        *,
        schema: Schema | None = None,
        known_versions: set[str] | None = None,
    ):
        self.path = Path(path)
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.rglob("*.jsonl") if p.is_file())
            if not self.files:
                raise DataError(
                    f"{self.path} holds no prediction log files (*.jsonl)",
                    hint="point --current at the predictions folder of 'churnctl serve --log-predictions', "
                    "or at a CSV/Parquet file",
                )
        elif not self.path.is_file():
            raise DataError(f"input file {self.path} does not exist", hint="check the path")
        else:
            self.files = [self.path]
        self.probe_bytes = probe_bytes
        self.schema = schema
        self.known_versions = known_versions
        self.versions: Counter[str] = Counter()  # rows per model version that answered them
        self.unknown_versions: Counter[str] = Counter()  # records of versions never in the registry
        self.skipped: list[str] = []  # lines that are not prediction log records
        self.invalid = 0  # records that break the schema
        self.first_invalid = ""  # where and why, for the warning
        self.records = 0  # records read (valid or not)
        self.cut = 0  # final lines without their newline (being written, or cut by a crash)
        self._sha = hashlib.sha256()

    def read_header(self) -> list[str]:
        """The input fields of the first record (of the first file that has one): the columns the log offers."""
        first: list[str] | None = None
        features = self.schema.feature_names if self.schema is not None else []
        for path in self.files:
            for record, _ in self._records(path, probe=True):
                fields = list(record["input"])
                if all(name in record["input"] for name in features):
                    return fields  # a record the model can take: a bad first record does not stand for all
                first = first or fields
        if first is not None:
            return first
        raise DataError(f"{self.path} holds no complete prediction log line", hint=_HINT)

    def estimate_rows(self) -> int | None:
        """Rows of all files, estimated from their size and the length of the first lines."""
        size = sum(p.stat().st_size for p in self.files)
        with open(self.files[0], "rb") as handle:
            head = handle.read(self.probe_bytes)
        lines = head.count(b"\n")
        return max(1, round(size * lines / len(head))) if lines else None

    def frames(self, columns: list[str], batch_rows: int = 100_000) -> Iterator[pd.DataFrame]:
        """The logged inputs in DataFrames of ``columns`` (absent fields are missing values, unless a
        ``schema`` says they are features: then the record is skipped)."""
        batch: list[dict] = []
        meta: list[tuple[str, str]] = []  # (model version, where) of each row of the batch
        features = self.schema.feature_names if self.schema is not None else []
        for path in self.files:
            for record, number in self._records(path):
                self.records += 1
                version = record.get("model_version")
                version = version if isinstance(version, str) else json.dumps(version, default=str)
                if self.known_versions is not None and version not in self.known_versions:
                    self.unknown_versions[shown(version, 40)] += 1
                    continue
                absent = [name for name in features if name not in record["input"]]
                if absent:
                    self._invalid(1, f"{path} line {number}: lacks the feature(s) {preview(absent, 3)}")
                    continue
                batch.append(record["input"])
                meta.append((version, f"{path} line {number}"))
                if len(batch) >= batch_rows:
                    yield self._frame(batch, meta, columns)
                    batch, meta = [], []
        if batch:
            yield self._frame(batch, meta, columns)

    def _frame(self, batch: list[dict], meta: list[tuple[str, str]], columns: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(batch, columns=columns)
        keep = np.ones(len(frame), dtype=bool)
        while self.schema is not None and keep.any():
            try:
                prepare_features(frame[keep], self.schema, source="prediction log")
                break
            except InvalidRows as exc:
                positions = np.flatnonzero(keep)[sorted({r for p in exc.problems for r in p.rows})]
                keep[positions] = False
                why = exc.problems[0].message.split(": ", 1)[-1].rsplit(" in row ", 1)[0]
                self._invalid(len(positions), f"{meta[positions[0]][1]}: {why}")
        self.versions.update(version for (version, _), kept in zip(meta, keep, strict=True) if kept)
        return frame[keep].reset_index(drop=True) if not keep.all() else frame

    def _invalid(self, count: int, example: str) -> None:
        self.invalid += count
        self.first_invalid = self.first_invalid or example

    def check(self) -> None:
        """Refuse the log when more than :data:`MAX_BAD_SHARE` of its records break the schema, or when
        none is left to check; call after reading."""
        bad = self.invalid + len(self.skipped)
        if bad and bad > MAX_BAD_SHARE * (self.records + len(self.skipped)):
            raise DataError(
                f"{self.path}: {bad} of {self.records + len(self.skipped)} logged line(s) are not records the "
                f"model can take (more than {MAX_BAD_SHARE:.0%}), e.g. {self.first_invalid or self.skipped[0]}",
                hint="this is not the log of this model's server, or it was damaged; check it, or point "
                "--current at the part that is good",
            )
        if self.unknown_versions and not sum(self.versions.values()):
            raise DataError(
                f"{self.path}: every record was answered by a model version this registry never had "
                f"({self._unknown()})",
                hint="point --artifacts at the registry of the server that wrote this log",
            )

    def sha256(self) -> str:
        """SHA-256 of every complete line read so far (what the check saw)."""
        return self._sha.hexdigest()

    def warnings(self) -> list[str]:
        out = []
        if self.skipped:
            first = self.skipped[0]
            out.append(f"{len(self.skipped)} line(s) are not prediction log records and were skipped: {first}")
        if self.invalid:
            out.append(
                f"{self.invalid} prediction log record(s) break the model's schema and were skipped, e.g. "
                f"{self.first_invalid}"
            )
        if self.unknown_versions:
            out.append(
                f"{sum(self.unknown_versions.values())} prediction log record(s) were answered by model versions "
                f"this registry never had and were left out: {self._unknown()}"
            )
        if len(self.versions) > 1:
            listed = ", ".join(f"{shown(v, 40)} ({n} rows)" for v, n in sorted(self.versions.items()))
            out.append(f"the prediction log holds answers of several model versions: {listed}")
        return out

    def _unknown(self) -> str:
        listed = ", ".join(f"{v} ({n} records)" for v, n in self.unknown_versions.most_common(5))
        more = len(self.unknown_versions) - 5
        return listed + (f" (+{more} more)" if more > 0 else "")

    def _records(self, path: Path, probe: bool = False) -> Iterator[tuple[dict[str, Any], int]]:
        """The records of one file with their line numbers, in order; with ``probe`` (looking for the
        header) nothing is counted."""
        found, skipped = 0, []
        try:
            with open(path, "rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.endswith(b"\n"):
                        if not probe:
                            self.cut += 1
                            log.debug("%s: line %d has no newline yet (being written, or cut): skipped", path, number)
                        break
                    record = _record(line)
                    if record is None:
                        skipped.append(f"{path} line {number}")
                        continue
                    if not probe:
                        self._sha.update(line)
                    found += 1
                    yield record, number
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}", hint="check the file's permissions") from None
        if probe:
            return
        if skipped and not found:
            raise DataError(f"{path} is not a churnctl prediction log ({skipped[0]} is not a record)", hint=_HINT)
        self.skipped += skipped


_HINT = "prediction logs are written by 'churnctl serve --log-predictions'; one JSON object per line"


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(record, dict) and isinstance(record.get("input"), dict):
        return record
    return None
