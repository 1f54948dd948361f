"""monitor: the drift history over time, as one JSON document and a self-contained page
(:mod:`churnctl.monitoring.timeline`, :mod:`churnctl.reports.history`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from churnctl.data.labels import LabelStore
from churnctl.errors import UsageError
from churnctl.lifecycle.results import Result
from churnctl.monitoring.labels import realised
from churnctl.monitoring.timeline import timeline
from churnctl.registry import Registry
from churnctl.registry.history import History

PERIODS = ("day", "week", "month")


@dataclass
class MonitorResult(Result):
    timeline: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.timeline


def monitor(registry: Registry, *, period: str = "month", since: str | None = None) -> MonitorResult:
    """Every kept drift-check (from ``since``, a date), the model changes of the event log and the
    realised performance of late labels per ``period``. Reads only: no lock, a read-only registry works."""
    if period not in PERIODS:
        raise UsageError(f"unknown period {period!r}", hint=f"choose one of {', '.join(PERIODS)}")
    start = _date(since) if since is not None else None
    registry.require_exists()
    documents = History(registry.root).read()
    joined = LabelStore(registry.root).joined()
    return MonitorResult(timeline(documents, registry.readable_events(), realised(joined, period), period, start))


def _date(text: str) -> str:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise UsageError(f"--since {text!r} is not a date", hint="give a date such as 2026-06-01")
    return stamp.strftime("%Y-%m-%d")
