"""The prediction log of ``churnctl serve --log-predictions``: what was asked and answered, in files that
``churnctl drift-check --current DIR`` reads as a batch (closing the monitoring loop).

Layout under the artifacts directory: ``predictions/YYYY-MM-DD/`` holds a day's files, one per period
(``daily``: ``YYYY-MM-DD.<host>-<pid>.jsonl``; ``hourly``: ``YYYY-MM-DDTHH.<host>-<pid>.jsonl``, UTC)
and per server process, so that workers (and containers sharing the folder) never share a file. Each
line is one scored row, a JSON object: ``{"time", "model_version", "request", "input": {feature or
identifier: value as sent}, "output": {"churn_probability", "churn_label", "risk_level", "confidence"}}``.

Durability: a request's lines are appended with one ``write`` on a descriptor opened with ``O_APPEND``
(no buffer in the process), so a crashed or killed server loses at most a line cut short; a write that
fails (a full disk) is taken back, so no cut line is left behind either. The files are synced at each
rotation, on shutdown and every :data:`SYNC_SECONDS` by a thread of their own, which never holds up
a write (what a power cut may lose); old day folders are removed by that thread too. A reader skips
a final line without its newline (the one being written, or the one a crash cut).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from churnctl.errors import ArtifactError, os_hint, os_reason
from churnctl.runtime.files import make_dirs

log = logging.getLogger(__name__)

FOLDER = "predictions"
ROTATIONS = ("hourly", "daily")
SYNC_SECONDS = 1.0
OUTPUT_FIELDS = ("churn_probability", "churn_label", "risk_level", "confidence")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def log_folder(artifacts: str | os.PathLike) -> Path:
    return Path(artifacts) / FOLDER


def check_log_folder(folder: Path) -> None:
    """Fail at start-up, not at the first request, when the prediction log cannot be written there."""
    try:
        make_dirs(folder)
        writable = os.access(folder, os.W_OK | os.X_OK)
    except OSError as exc:
        raise ArtifactError(
            f"cannot create the prediction log folder {folder}: {os_reason(exc)}",
            hint=os_hint(exc, "make the artifacts directory writable for the server, or drop --log-predictions"),
        ) from None
    if not folder.is_dir():
        raise ArtifactError(f"{folder} is not a folder", hint="move it aside: churnctl writes the prediction log there")
    if not writable:
        raise ArtifactError(
            f"the prediction log folder {folder} is not writable by this account",
            hint="make it writable for the server (chown/chmod), or drop --log-predictions",
        )


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
        self._prune_at: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._name = f"{_host()}-{os.getpid()}"

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

    def start(self) -> None:
        """Sync every :data:`SYNC_SECONDS` (and prune) from a thread of its own, until :meth:`close`."""
        self._thread = threading.Thread(target=self._run, name="churnctl-prediction-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SYNC_SECONDS):
            try:
                self.sync()
                self._prune()
            except OSError as exc:
                log.error("prediction log: %s", exc)

    def sync(self) -> None:
        """fsync what was written since the last sync, through a duplicate of the descriptor, so that
        writes go on meanwhile (and a rotation cannot close it under the sync)."""
        with self._lock:
            if self._fd is None or not self._dirty:
                return
            fd, self._dirty = os.dup(self._fd), False
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._close()
        self._prune()

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
        path = day / f"{name}.{self._name}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        size = os.fstat(fd).st_size
        self._fd, self._path, self._size, self._period_end = fd, path, size, end.timestamp()
        if size and not _ends_with_newline(path, size):  # a process with this pid was killed mid-line
            os.write(fd, b"\n")
            self._size += 1
        self._prune_at = moment
        log.debug("prediction log: writing %s", path)
        return fd

    def _prune(self) -> None:
        """Remove day folders older than ``keep_days`` (after a rotation; from the sync thread)."""
        moment, self._prune_at = self._prune_at, None
        if self.keep_days <= 0 or moment is None:
            return
        oldest = (moment - timedelta(days=self.keep_days)).strftime("%Y-%m-%d")
        for day in self.folder.iterdir():
            if day.is_dir() and _DAY.fullmatch(day.name) and day.name < oldest:
                shutil.rmtree(day, ignore_errors=True)
                log.info("prediction log: removed %s (older than %d days)", day, self.keep_days)


def _host() -> str:
    """This machine's name, as a file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname().split(".")[0]) or "host"


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"
