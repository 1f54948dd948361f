"""monitor: the drift history over time, as one JSON document and a self-contained page
(:mod:`churnctl.monitoring.timeline`, :mod:`churnctl.reports.history`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from churnctl.data.labels import LabelStore
from churnctl.lifecycle.results import Result
from churnctl.monitoring.labels import check_period, realised, utc_time
from churnctl.monitoring.timeline import timeline
from churnctl.registry import Registry
from churnctl.registry.history import History


@dataclass
class MonitorResult(Result):
    timeline: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.timeline


def monitor(registry: Registry, *, period: str = "month", since: str | None = None) -> MonitorResult:
    """Every kept drift-check (from ``since``, a date), the model changes of the event log and the
    realised performance of late labels per ``period``. Reads only: no lock, a read-only registry works."""
    check_period(period)
    start = utc_time(since, "--since").strftime("%Y-%m-%d") if since is not None else None
    registry.require_exists()
    documents = History(registry.root).read()
    joined = LabelStore(registry.root).joined()
    return MonitorResult(timeline(documents, registry.readable_events(), realised(joined, period), period, start))
