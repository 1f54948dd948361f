"""Reading the prediction log of ``churnctl serve --log-predictions`` (:mod:`churnctl.data.predlog`) as an
input of parts like any other: each ``*.jsonl`` file is a :class:`LogFile` part whose batches are the
logged inputs, so ``drift-check --current`` reads a log on any engine, part by part, as it reads a
folder of CSV files.

A log is written by servers, over weeks, by several versions: one bad record must not hide the others.
A record that lacks a feature or holds a value the schema refuses (text where a number belongs, a
number too large to model, a list) is skipped and counted, as are lines that are not records; records
answered by a version the registry never had are counted apart and left out of the statistics. Each
part's counts come back with its summary (:class:`LogReading`, merged by adding), and beyond
:data:`MAX_BAD_SHARE` of the lines the whole log is refused (:meth:`LogReading.check`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.frames import prepare_features
from churnctl.contract.problems import InvalidRows
from churnctl.contract.schema import Schema
from churnctl.data.sources import SUFFIXES, Part, Source
from churnctl.errors import DataError, preview, shown

log = logging.getLogger(__name__)

LOGGED_AT = "logged_at"  # a log's own column: when each record was answered (what its chunks of time follow)
MAX_BAD_SHARE = 0.05  # lines that are not records the model can take, beyond which a log is refused
_HINT = "prediction logs are written by 'churnctl serve --log-predictions'; one JSON object per line"


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


@dataclass
class LogReading:
    """What reading log files found, beyond their rows; merged by :meth:`add` in part order."""

    records: int = 0  # records read, valid or not
    skipped: list[str] = field(default_factory=list)  # lines that are not records ("FILE line N")
    invalid: int = 0  # records that break the schema
    first_invalid: str = ""  # where and why, for the warning
    unknown_versions: Counter[str] = field(default_factory=Counter)  # records of versions never in the registry
    versions: Counter[str] = field(default_factory=Counter)  # rows used, per version that answered them
    cut: int = 0  # final lines without their newline (being written, or cut by a crash)

    def add(self, other: LogReading) -> None:
        self.records += other.records
        self.skipped += other.skipped
        self.invalid += other.invalid
        self.first_invalid = self.first_invalid or other.first_invalid
        self.unknown_versions.update(other.unknown_versions)
        self.versions.update(other.versions)
        self.cut += other.cut

    def check(self, where: str) -> None:
        """Refuse the log when more than :data:`MAX_BAD_SHARE` of its lines are not records the model can
        take, or when every record was answered by a version the registry never had."""
        bad, lines = self.invalid + len(self.skipped), self.records + len(self.skipped)
        if bad and bad > MAX_BAD_SHARE * lines:
            raise DataError(
                f"{where}: {bad} of {lines} logged line(s) are not records the model can take (more than "
                f"{MAX_BAD_SHARE:.0%}), e.g. {self.first_invalid or self.skipped[0]}",
                hint="this is not the log of this model's server, or it was damaged; check it, or point "
                "--current at the part that is good",
            )
        if self.unknown_versions and not sum(self.versions.values()):
            raise DataError(
                f"{where}: every record was answered by a model version this registry never had ({self._unknown()})",
                hint="point --artifacts at the registry of the server that wrote this log",
            )

    def warnings(self) -> list[str]:
        out = []
        if self.skipped:
            out.append(
                f"{len(self.skipped)} line(s) are not prediction log records and were skipped: {self.skipped[0]}"
            )
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


@dataclass(frozen=True)
class LogFile(Part):
    """One prediction log file as a part of an input, read against the model's ``schema``."""

    schema: Schema | None = None
    known_versions: frozenset[str] | None = None
    found: LogReading = field(default_factory=LogReading, compare=False)
    digest: list[str] = field(default_factory=list, compare=False)  # SHA-256 of the complete lines read

    @contextmanager
    def fetched(self) -> Iterator[LogFile]:
        yield self

    def header(self) -> list[str]:
        """The input fields of the first record that holds every feature (else of the first record)."""
        first: list[str] | None = None
        features = self.schema.feature_names if self.schema is not None else []
        for record, _ in self._records(probe=True):
            fields = [*record["input"], *([LOGGED_AT] if LOGGED_AT not in record["input"] else [])]
            if all(name in record["input"] for name in features):
                return fields
            first = first or fields
        if first is None:
            raise DataError(f"{self.name} holds no complete prediction log line", hint=_HINT)
        return first

    def estimate_rows(self) -> int | None:
        """Rows, estimated from the file's size and the length of its first lines."""
        size = os.path.getsize(self.location)
        with open(self.location, "rb") as handle:
            head = handle.read(1 << 20)
        lines = head.count(b"\n")
        return max(1, round(size * lines / len(head))) if lines else None

    def batches(
        self, columns: list[str] | None, batch_rows: int, numeric: tuple[str, ...] | list[str] = ()
    ) -> Iterator[pd.DataFrame]:
        """The logged inputs in DataFrames of ``columns`` (absent fields are missing values, unless the
        schema says they are features: then the record is skipped), bad records left out."""
        del numeric
        assert columns is not None
        batch: list[dict] = []
        meta: list[tuple[str, str]] = []  # (model version, where) of each row of the batch
        features = self.schema.feature_names if self.schema is not None else []
        timed = LOGGED_AT in columns
        for record, number in self._records():
            self.found.records += 1
            version = record.get("model_version")
            version = version if isinstance(version, str) else json.dumps(version, default=str)
            if self.known_versions is not None and version not in self.known_versions:
                self.found.unknown_versions[shown(version, 40)] += 1
                continue
            absent = [name for name in features if name not in record["input"]]
            if absent:
                self._invalid(1, f"{self.name} line {number}: lacks the feature(s) {preview(absent, 3)}")
                continue
            row = record["input"]
            if timed and LOGGED_AT not in features:  # serve's answer time, whatever a client sent under the name
                row = {**row, LOGGED_AT: record.get("time")}
            batch.append(row)
            meta.append((version, f"{self.name} line {number}"))
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
        self.found.versions.update(version for (version, _), kept in zip(meta, keep, strict=True) if kept)
        return frame[keep].reset_index(drop=True) if not keep.all() else frame

    def _invalid(self, count: int, example: str) -> None:
        self.found.invalid += count
        self.found.first_invalid = self.found.first_invalid or example

    def sha256(self) -> str:
        """SHA-256 of every complete line read (what the check saw)."""
        return self.digest[-1] if self.digest else hashlib.sha256().hexdigest()

    def reading(self) -> LogReading:
        return self.found

    def _records(self, probe: bool = False) -> Iterator[tuple[dict[str, Any], int]]:
        """The records of the file with their line numbers, in order; with ``probe`` (looking for the
        header) nothing is counted."""
        found, skipped, sha = 0, [], hashlib.sha256()
        try:
            with open(self.location, "rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.endswith(b"\n"):
                        if not probe:
                            self.found.cut += 1
                            log.debug(
                                "%s: line %d has no newline yet (being written, or cut): skipped", self.name, number
                            )
                        break
                    record = _record(line)
                    if record is None:
                        skipped.append(f"{self.name} line {number}")
                        continue
                    sha.update(line)
                    found += 1
                    yield record, number
        except OSError as exc:
            raise DataError(
                f"cannot read {self.name}: {exc.strerror or exc}", hint="check the file's permissions"
            ) from None
        if probe:
            return
        if skipped and not found:
            raise DataError(f"{self.name} is not a churnctl prediction log ({skipped[0]} is not a record)", hint=_HINT)
        self.found.skipped.extend(skipped)
        self.digest.append(sha.hexdigest())


class LogSource(Source):
    """A prediction log: one file, or every ``*.jsonl`` below a folder in name order."""

    def read_header(self) -> list[str]:
        """The fields of the first record the model can take, in any file (a bad first record does not
        stand for all)."""
        first: list[str] | None = None
        for part in self.parts:
            try:
                fields = part.header()
            except DataError:
                continue
            schema = getattr(part, "schema", None)
            if schema is None or all(name in fields for name in schema.feature_names):
                return fields
            first = first or fields
        if first is None:
            raise DataError(f"{self.spec} holds no complete prediction log line", hint=_HINT)
        return first


def log_source(
    path: str | os.PathLike, schema: Schema | None = None, known_versions: set[str] | None = None
) -> LogSource:
    """The parts of a prediction log, to be read against ``schema``; records of versions not in
    ``known_versions`` are counted apart (None: no check)."""
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.jsonl") if p.is_file())
        if not files:
            raise DataError(
                f"{root} holds no prediction log files (*.jsonl)",
                hint="point --current at the predictions folder of 'churnctl serve --log-predictions', "
                "or at a CSV/Parquet file",
            )
    elif not root.is_file():
        raise DataError(f"input file {root} does not exist", hint="check the path")
    else:
        files = [root]
    known = frozenset(known_versions) if known_versions is not None else None
    parts: list[Part] = [LogFile(os.path.abspath(f), str(f), schema=schema, known_versions=known) for f in files]
    return LogSource(str(path), parts)


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(record, dict) and isinstance(record.get("input"), dict):
        return record
    return None


@dataclass
class LoggedPredictions:
    """What a prediction log answered, one row per scored row that carried the id field."""

    frame: pd.DataFrame  # id (text), predicted_at (UTC), model_version, churn_probability, churn_label, source, origin
    without_id: int  # records that did not carry the id field


def logged_predictions(path: str | os.PathLike, id_field: str) -> LoggedPredictions:
    """Every answer of the log at ``path`` (a file or a folder of them) with the ``id_field`` its
    request sent, for joining labels that arrive later; records without it are counted."""
    rows: list[tuple[Any, ...]] = []
    without = 0
    for part in log_source(path).parts:
        assert isinstance(part, LogFile)
        for record, _ in part._records(probe=True):
            output = record.get("output")
            value = record["input"].get(id_field)
            if value is None or not isinstance(output, dict):
                without += 1
                continue
            rows.append(
                (
                    value,
                    record.get("time"),
                    str(record.get("model_version")),
                    output.get("churn_probability"),
                    output.get("churn_label"),
                    part.name,
                    f"log {record.get('time')} {record.get('request')}",
                )
            )
    columns = ["id", "predicted_at", "model_version", "churn_probability", "churn_label", "source", "origin"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["predicted_at"] = pd.to_datetime(frame["predicted_at"], utc=True, errors="coerce", format="ISO8601")
    frame["churn_probability"] = pd.to_numeric(frame["churn_probability"], errors="coerce")
    frame["churn_label"] = pd.to_numeric(frame["churn_label"], errors="coerce")
    bad = frame[["predicted_at", "churn_probability", "churn_label"]].isna().any(axis=1)
    return LoggedPredictions(frame[~bad].reset_index(drop=True), without + int(bad.sum()))
