"""The append-only event log, ``events.jsonl``: one JSON object per registry change.

Each event is written with a single ``write`` on a file opened with ``O_APPEND`` and then fsynced,
so concurrent or killed writers cannot interleave or truncate earlier lines. A reader skips a
final line that a crash cut short. A write that cannot complete (a full disk) is undone and
reported as an artifact problem: the log never ends in a cut line that claims success.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import churnctl
from churnctl.errors import ArtifactError, os_hint
from churnctl.registry.files import read_regular

# Every kind of event churnctl writes (``churnctl events --kind`` takes these).
EVENT_KINDS = (
    "dataset_added",
    "model_trained",
    "model_promoted",
    "model_rolled_back",
    "models_pruned",
    "retrain",
    "drift_checked",
    "manifests_adopted",
    "registry_bound",
    "pointer_signed",
)


def dataset_added_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``dataset_added`` event, from the dataset's manifest."""
    return {
        "dataset_id": manifest.get("dataset_id"),
        "source": manifest.get("source"),
        "source_sha256": manifest.get("source_sha256"),
        "n_rows": manifest.get("n_rows"),
        "churn_rate": manifest.get("churn_rate"),
    }


def model_trained_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``model_trained`` event, from the version's manifest."""
    return {
        "version": manifest.get("version"),
        "dataset_id": manifest.get("dataset_id"),
        "estimator": manifest.get("estimator"),
        "cv_roc_auc": manifest.get("cv_roc_auc"),
        "test_roc_auc": (manifest.get("test_metrics") or {}).get("roc_auc"),
        "threshold": manifest.get("threshold"),
    }


def append_event(path: Path, event: str, **fields: Any) -> dict[str, Any]:
    record = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
        "churnctl_version": churnctl.__version__,
        **fields,
    }
    line = (json.dumps(record, default=str, sort_keys=False) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        raise ArtifactError(
            f"cannot open the event log {path}: {exc.strerror}",
            hint=os_hint(exc, "check that the artifacts directory is writable and the log is a plain file"),
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtifactError(
                f"the event log {path} is not a regular file", hint="move it away; churnctl starts a new one"
            )
        # Appenders take turns, so that a line taken back after a failed write is only ever this one.
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a writer was killed mid-line: keep that fragment off this event's line
        _write_all(fd, line, size, path)
    finally:
        os.close(fd)
    return record


def _write_all(fd: int, line: bytes, size: int, path: Path) -> None:
    """Append the whole line and sync it, or take back what was written and raise."""
    written = 0
    try:
        while written < len(line):
            count = os.write(fd, line[written:])
            if count <= 0:
                raise OSError(28, "No space left on device")
            written += count
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):  # if this fails too, the reader skips the cut last line
            os.ftruncate(fd, size)
        raise ArtifactError(
            f"cannot append to the event log {path}: {exc.strerror or exc}",
            hint=os_hint(exc, "free space on the disk of the artifacts directory, then rerun"),
        ) from None


def read_events(path: Path) -> list[dict[str, Any]]:
    return scan_events(path).events


@dataclass
class EventScan:
    """The events of the log, and the line numbers of lines that are not events (damaged or edited;
    a final line cut short by a crash is not counted: the next append starts a new line)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)

    def warning(self, path: Path) -> str | None:
        if not self.damaged:
            return None
        lines = ", ".join(map(str, self.damaged[:5])) + (
            f" (+{len(self.damaged) - 5} more)" if len(self.damaged) > 5 else ""
        )
        return f"{path}: {len(self.damaged)} line(s) are not events and were skipped (line {lines})"


def scan_events(path: Path) -> EventScan:
    scan = EventScan()
    if not path.exists() and not path.is_symlink():
        return scan
    data, _, _ = read_regular(path, digest=False)
    text = (data or b"").decode("utf-8", errors="replace")
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = _event(line.encode("utf-8", errors="replace"))
        if event is not None:
            scan.events.append(event)
        elif number < len(lines):  # the last piece without a newline is a cut line, not damage
            scan.damaged.append(number)
    return scan


def events_backwards(path: Path, block: int = 1 << 16) -> Iterator[dict[str, Any]]:
    """The events of the log from the last to the first, read from the end in blocks: a reader that
    wants the latest events of a long log (every drift-check adds one) reads only those."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return
        raise ArtifactError(f"cannot read the event log {path}: {exc.strerror}", hint="check its permissions") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtifactError(f"the event log {path} is not a regular file", hint="move it away")
        end, tail = os.fstat(fd).st_size, b""
        while end > 0:
            start = max(0, end - block)
            chunk = os.pread(fd, end - start, start) + tail
            end = start
            lines = chunk.split(b"\n")
            tail = lines.pop(0) if end > 0 else b""  # the first line may start in the block before
            for line in reversed(lines):
                event = _event(line)
                if event is not None:
                    yield event
    finally:
        os.close(fd)


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None
