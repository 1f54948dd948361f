"""The drift history: every drift-check's full result, kept in the artifacts directory.

::

    <artifacts>/history/drift/<YYYY-MM-DD>/<HHMMSS.ffffff>-<model version>-<random>.json

One file per check, named by its UTC time (a day folder per day), written to a temporary name and
renamed into place, never rewritten: readers need no lock and see only whole files, and a read-only
registry can be read (a check on it keeps no history and says so). ``[drift] history_keep_days`` (0:
every day) prunes whole day folders when a check is kept. Each file holds the JSON document the check
printed (chunks included), the batch it read (where, its SHA-256) and when; compact JSON, a few KB per
check plus about 1 KB per chunk.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from churnctl.errors import ArtifactError, os_reason
from churnctl.runtime.files import write_json_atomic

FORMAT = 1
DAY = "%Y-%m-%d"


class History:
    def __init__(self, root: Path, keep_days: int = 0):
        self.folder = root / "history" / "drift"
        self.keep_days = keep_days

    def keep(self, result: dict[str, Any], *, current: str, current_sha256: str, when: str) -> str | None:
        """Store one check's result; what went wrong, if the registry cannot be written (the check's
        answer stands without its history)."""
        stamp = datetime.fromisoformat(when).astimezone(UTC)
        document = {
            "format": FORMAT,
            "checked_at": stamp.isoformat(),
            "current": current,
            "current_sha256": current_sha256,
            "result": result,
        }
        day = self.folder / stamp.strftime(DAY)
        name = f"{stamp.strftime('%H%M%S.%f')}-{result.get('model_version', 'model')}-{uuid.uuid4().hex[:8]}.json"
        try:
            write_json_atomic(day / name, document, compact=True)
        except (OSError, ValueError) as exc:
            reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
            return f"this check was not added to the history in {self.folder}: {reason}"
        self.prune(stamp)
        return None

    def prune(self, now: datetime) -> list[str]:
        """Day folders older than ``keep_days`` removed (none when 0); their names."""
        if self.keep_days <= 0 or not self.folder.is_dir():
            return []
        oldest = (now - timedelta(days=self.keep_days)).strftime(DAY)
        removed = []
        for day in sorted(self.folder.iterdir()):
            if day.is_dir() and _is_day(day.name) and day.name < oldest:
                shutil.rmtree(day, ignore_errors=True)
                removed.append(day.name)
        return removed

    def files(self) -> list[Path]:
        """Every kept result, oldest first (temporary files of a check in progress left out)."""
        if not self.folder.is_dir():
            return []
        days = sorted(d for d in self.folder.iterdir() if d.is_dir() and _is_day(d.name))
        return [f for d in days for f in sorted(d.glob("*.json")) if not f.name.startswith(".")]

    def read(self) -> Iterator[dict[str, Any]]:
        """The kept results, oldest first; a file that is not a result is an artifact error naming it."""
        for path in self.files():
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ArtifactError(
                    f"history file {path} cannot be read: {exc}", hint="remove or restore the file"
                ) from None
            if not isinstance(document, dict) or document.get("format") != FORMAT or "result" not in document:
                raise ArtifactError(f"history file {path} is not a drift-check result", hint="remove the file")
            yield document


def _is_day(name: str) -> bool:
    try:
        datetime.strptime(name, DAY)
        return True
    except ValueError:
        return False
