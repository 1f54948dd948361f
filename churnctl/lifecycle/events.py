"""events: the registry's event log, filtered by kind and time (drift checks included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from churnctl.errors import UsageError, preview
from churnctl.registry import Registry
from churnctl.registry.events import EVENT_KINDS


def list_events(
    registry: Registry, *, kinds: list[str] | None = None, since: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Events oldest first: of the given kinds, at or after ``since`` (an ISO date or time, UTC when
    it names no zone), the last ``limit`` of them."""
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise UsageError(
                f"--since {since!r} is not a date or time", hint="use ISO 8601, e.g. 2026-11-01 or 2026-11-01T08:00"
            ) from None
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, found {limit}")
    unknown = [k for k in kinds or () if k not in EVENT_KINDS]
    if unknown:
        raise UsageError(f"--kind {preview(unknown)}: no such kind of event", hint=f"kinds: {', '.join(EVENT_KINDS)}")
    registry.require_exists()
    chosen = []
    for event in registry.readable_events():
        if kinds and event.get("event") not in kinds:
            continue
        if start is not None and not _at_or_after(event.get("time"), start):
            continue
        chosen.append(event)
    return chosen[-limit:] if limit else chosen


def _at_or_after(stamp: object, start: datetime) -> bool:
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return False  # the log is not signed: a line without a readable time is left out
    if start.tzinfo is None:  # a time without a zone is UTC, as the log's
        start = start.replace(tzinfo=UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when >= start
