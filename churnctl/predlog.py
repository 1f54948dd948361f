"""The prediction log of ``churnctl serve --log-predictions``: what was asked and answered, in files that
``churnctl drift-check --current DIR`` reads as a batch (closing the monitoring loop).

Layout under the artifacts directory: ``predictions/YYYY-MM-DD/`` holds a day's files, one per period
(``daily``: ``YYYY-MM-DD.<pid>.jsonl``; ``hourly``: ``YYYY-MM-DDTHH.<pid>.jsonl``, UTC) and per server
process, so that workers never share a file. Each line is one scored row, a JSON object:
``{"time", "model_version", "request", "input": {feature or identifier: value as sent}, "output":
{"churn_probability", "churn_label", "risk_level", "confidence"}}``.

Durability: a request's lines are appended with one ``write`` on a descriptor opened with ``O_APPEND``
(no buffer in the process), so a crashed or killed server loses at most a line cut short; a write that
fails (a full disk) is taken back, so no cut line is left behind either. The files are synced at each
rotation, on shutdown and every :data:`SYNC_SECONDS` (what a power cut may lose). A reader skips a
final line without its newline (the one being written, or the one a crash cut).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from churnctl.errors import DataError
from churnctl.registry.files import make_dirs

log = logging.getLogger(__name__)

FOLDER = "predictions"
ROTATIONS = ("hourly", "daily")
SYNC_SECONDS = 1.0
OUTPUT_FIELDS = ("churn_probability", "churn_label", "risk_level", "confidence")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".txt", ".parquet", ".pq")


def log_folder(artifacts: str | os.PathLike) -> Path:
    return Path(artifacts) / FOLDER


class PredictionLog:
    """Appends scored rows to the current period's file (thread-safe); ``keep_days`` > 0 removes day
    folders older than that many days at each rotation."""

    def __init__(self, folder: Path, rotation: str = "daily", keep_days: int = 0):
        if rotation not in ROTATIONS:
            raise ValueError(f"rotation {rotation!r}")
        self.folder, self.rotation, self.keep_days = folder, rotation, keep_days
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._period_end = 0.0
        self._dirty = False

    @property
    def path(self) -> Path | None:
        """The file being written."""
        return self._path

    def write(self, version: str, rows: list[dict], outputs: list[dict], fields: list[str]) -> None:
        """Append one line per row: its ``fields`` present (features, identifiers) as sent, its output.

        Raises OSError when the line cannot be written (nothing of it is left in the file)."""
        now = time.time()  # one clock for the line's time and the file it goes to
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        request = uuid.uuid4().hex[:16]
        lines = []
        for row, output in zip(rows, outputs, strict=True):
            record = {
                "time": stamp,
                "model_version": version,
                "request": request,
                "input": {k: row[k] for k in fields if k in row},
                "output": {k: output[k] for k in OUTPUT_FIELDS},
            }
            lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False))
        data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
        with self._lock:
            fd = self._file(now)
            written = 0
            try:
                while written < len(data):
                    written += os.write(fd, data[written:])
            except OSError:
                with contextlib.suppress(OSError):  # never leave a cut line that a later line would join
                    os.ftruncate(fd, self._size)
                raise
            self._size += len(data)
            self._dirty = True

    def sync(self) -> None:
        """fsync what was written since the last sync (called every :data:`SYNC_SECONDS` by the server)."""
        with self._lock:
            if self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._dirty = False

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd, self._path, self._dirty = None, None, False

    def _file(self, now: float) -> int:
        if self._fd is not None and now < self._period_end:
            return self._fd
        self._close()
        moment = datetime.fromtimestamp(now, UTC)
        if self.rotation == "hourly":
            start = moment.replace(minute=0, second=0, microsecond=0)
            name, end = start.strftime("%Y-%m-%dT%H"), start + timedelta(hours=1)
        else:
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            name, end = start.strftime("%Y-%m-%d"), start + timedelta(days=1)
        day = self.folder / moment.strftime("%Y-%m-%d")
        make_dirs(day)
        path = day / f"{name}.{os.getpid()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        size = os.fstat(fd).st_size
        self._fd, self._path, self._size, self._period_end = fd, path, size, end.timestamp()
        if size and not _ends_with_newline(path, size):  # a process with this pid was killed mid-line
            os.write(fd, b"\n")
            self._size += 1
        self._prune(moment)
        log.debug("prediction log: writing %s", path)
        return fd

    def _prune(self, moment: datetime) -> None:
        if self.keep_days <= 0:
            return
        oldest = (moment - timedelta(days=self.keep_days)).strftime("%Y-%m-%d")
        for day in self.folder.iterdir():
            if day.is_dir() and _DAY.fullmatch(day.name) and day.name < oldest:
                shutil.rmtree(day, ignore_errors=True)
                log.info("prediction log: removed %s (older than %d days)", day, self.keep_days)


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


# -- reading ------------------------------------------------------------------------------------


def is_prediction_log(path: str | os.PathLike) -> bool:
    """One log file (``.jsonl``), or a folder with log files and no CSV/Parquet file (a folder of those
    is a partitioned input, :mod:`churnctl.sources`)."""
    path = Path(path)
    if str(path).lower().endswith(".jsonl"):
        return True
    if not path.is_dir():
        return False
    names = [p.name.lower() for p in path.rglob("*") if p.is_file()]
    return any(n.endswith(".jsonl") for n in names) and not any(n.endswith(TABLE_SUFFIXES) for n in names)


class PredictionLogReader:
    """The rows of one prediction log file or of every ``*.jsonl`` below a folder (in name order), as
    DataFrames of their inputs; a drift-check source like a CSV/Parquet file."""

    def __init__(self, path: str | os.PathLike, probe_bytes: int = 1 << 20):
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
        self.versions: Counter[str] = Counter()  # rows per model version that answered them
        self.skipped: list[str] = []  # lines that are not prediction log records
        self.cut = 0  # final lines without their newline (being written, or cut by a crash)
        self._sha = hashlib.sha256()

    def read_header(self) -> list[str]:
        """The input fields of the first record: the columns the log offers."""
        for record in self._records(self.files[0], limit=1):
            return list(record["input"])
        raise DataError(f"{self.files[0]} holds no complete prediction log line", hint=_HINT)

    def estimate_rows(self) -> int | None:
        """Rows of all files, estimated from their size and the length of the first lines."""
        size = sum(p.stat().st_size for p in self.files)
        with open(self.files[0], "rb") as handle:
            head = handle.read(self.probe_bytes)
        lines = head.count(b"\n")
        return max(1, round(size * lines / len(head))) if lines else None

    def frames(self, columns: list[str], batch_rows: int = 100_000) -> Iterator[pd.DataFrame]:
        """The logged inputs in DataFrames of ``columns`` (absent fields are missing values)."""
        batch: list[dict] = []
        for path in self.files:
            for record in self._records(path):
                batch.append(record["input"])
                self.versions[str(record.get("model_version"))] += 1
                if len(batch) >= batch_rows:
                    yield pd.DataFrame.from_records(batch, columns=columns)
                    batch = []
        if batch:
            yield pd.DataFrame.from_records(batch, columns=columns)

    def sha256(self) -> str:
        """SHA-256 of every complete line read so far (what the check saw)."""
        return self._sha.hexdigest()

    def warnings(self) -> list[str]:
        out = []
        if self.skipped:
            first = self.skipped[0]
            out.append(f"{len(self.skipped)} line(s) are not prediction log records and were skipped: {first}")
        if len(self.versions) > 1:
            listed = ", ".join(f"{v} ({n} rows)" for v, n in sorted(self.versions.items()))
            out.append(f"the prediction log holds answers of several model versions: {listed}")
        return out

    def _records(self, path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
        found = 0
        try:
            with open(path, "rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.endswith(b"\n"):
                        self.cut += 1
                        log.debug("%s: line %d has no newline yet (being written, or cut): skipped", path, number)
                        break
                    record = _record(line)
                    if record is None:
                        self.skipped.append(f"{path} line {number}")
                        continue
                    if limit is None:
                        self._sha.update(line)
                    yield record
                    found += 1
                    if limit is not None and found >= limit:
                        return
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}", hint="check the file's permissions") from None
        if not found and limit is None and self.skipped:
            raise DataError(f"{path} is not a churnctl prediction log ({self.skipped[-1]} is not a record)", hint=_HINT)


_HINT = "prediction logs are written by 'churnctl serve --log-predictions'; one JSON object per line"


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(record, dict) and isinstance(record.get("input"), dict):
        return record
    return None
