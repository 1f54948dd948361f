"""The append-only event log, ``events.jsonl``: one JSON object per registry change.

Each event is written with a single ``write`` on a file opened with ``O_APPEND`` and then fsynced,
so concurrent or killed writers cannot interleave or truncate earlier lines. A reader skips a
final line that a crash cut short.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import churnctl


def append_event(path: Path, event: str, **fields) -> dict:
    record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event,
              "churnctl_version": churnctl.__version__, **fields}
    line = (json.dumps(record, default=str, sort_keys=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a writer was killed mid-line: keep that fragment off this event's line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash
    return events
