"""One batch as chunks of time (day, week, month of a time column) or of rows, each checked as a
batch of its own, the whole being their merge.

:class:`Chunked` sends each row of a batch to the monitor of its chunk; every monitor's state merges
(see :mod:`churnctl.drift.partial`), so parts summarised apart — on a cluster — give the chunks of one
pass exactly. Without chunking there is one chunk, the whole batch, checked as before. The batch's time
range comes along when it has a time column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.inference import time_column
from churnctl.drift.monitor import DriftMonitor, MonitorState
from churnctl.errors import DataError, UsageError

PERIODS = {"day": "D", "week": "W-SUN", "month": "M"}  # weeks run Monday to Sunday
WHOLE = ""  # the key of the one chunk of an unchunked batch


@dataclass(frozen=True)
class Chunking:
    column: str | None  # the time column (also read for the batch's time range)
    period: str | None = None  # day | week | month
    rows: int | None = None  # or chunks of this many rows

    @classmethod
    def parse(cls, chunk: str | None, column: str | None) -> Chunking:
        if chunk is None:
            return cls(column)
        if chunk in PERIODS:
            if column is None:
                raise UsageError(
                    f"--chunk {chunk} needs a time column",
                    hint="pass --time-column COLUMN (or ingest with --time-column), or chunk by rows: --chunk 5000",
                )
            return cls(column, period=chunk)
        return cls(column, rows=int(chunk))

    @property
    def chunked(self) -> bool:
        return self.period is not None or self.rows is not None

    def describe(self) -> dict[str, Any] | None:
        if not self.chunked:
            return None
        return {"by": self.period or "rows", "rows": self.rows, "time_column": self.column}

    def times(self, frame: pd.DataFrame, source: str) -> pd.Series | None:
        """The rows' times (None without a time column in the frame)."""
        if self.column is None or self.column not in frame.columns:
            if self.period is not None:
                raise DataError(
                    f"{source} has no time column {self.column!r} to cut into {self.period}s",
                    hint="give the column, or chunk by rows: --chunk 5000",
                )
            return None
        try:
            times = time_column(self.column, frame[self.column])[1]
        except DataError:
            if self.period is not None:
                raise
            return None  # a time range is a nicety: rows without a time do not stop a check
        if self.period is not None and not pd.api.types.is_datetime64_any_dtype(times):
            raise DataError(
                f"time column {self.column!r} of {source} holds numbers, not dates: it cannot be cut into "
                f"{self.period}s",
                hint="chunk by rows instead: --chunk 5000",
            )
        return times

    def keys(self, times: pd.Series | None, first_row: int, n: int) -> np.ndarray:
        """Each row's chunk: the first day of its period (ISO), or its block of rows (from 1)."""
        if self.period is not None:
            assert times is not None
            return times.dt.to_period(PERIODS[self.period]).dt.start_time.dt.strftime("%Y-%m-%d").to_numpy()
        if self.rows is not None:
            start = (first_row + np.arange(n)) // self.rows * self.rows + 1
            return np.array([f"rows {s}-{s + self.rows - 1}" for s in start], dtype=object)
        return np.full(n, WHOLE, dtype=object)

    def order(self, key: str) -> tuple:
        """Sort key: chunks in time (or row) order."""
        if self.rows is not None:
            return (int(key.split()[1].split("-")[0]),)
        return (key,)

    def label(self, key: str, n_rows: int) -> str:
        """How a chunk is named: its period's first day, or its rows (the last block of rows as far as
        the batch goes)."""
        if self.rows is None:
            return key
        start = self.order(key)[0]
        return f"rows {start}-{start + n_rows - 1}"

    def end(self, key: str) -> str | None:
        """The last day of a period chunk (None for row chunks)."""
        if self.period is None:
            return None
        period = pd.Period(key, freq=PERIODS[self.period])
        return str(period.end_time.date())


@dataclass
class ChunkedState:
    n_rows: int
    chunks: dict[str, MonitorState]
    times: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # per chunk: first and last time


class Chunked:
    """A monitor per chunk, made by ``make`` when a chunk's first row arrives."""

    def __init__(self, make: Callable[[], DriftMonitor], chunking: Chunking, first_row: int = 0):
        self.make, self.chunking, self.first_row = make, chunking, first_row
        self.monitors: dict[str, DriftMonitor] = {}
        self.times: dict[str, tuple[Any, Any]] = {}
        self.n_rows = 0

    def update(
        self, frame: pd.DataFrame, *, source: str, labels: np.ndarray | None = None, labelled: np.ndarray | None = None
    ) -> None:
        times = self.chunking.times(frame, source)
        start = self.first_row + self.n_rows
        keys = self.chunking.keys(times, start, len(frame))
        rows = start + np.arange(len(frame))
        for key in pd.unique(keys):
            mask = keys == key
            part = frame if mask.all() else frame.loc[mask]
            monitor = self.monitors.setdefault(key, self.make())
            monitor.update(
                part,
                source=source,
                labels=None if labels is None else labels[mask],
                labelled=None if labelled is None else labelled[mask],
                rows=rows[mask],
            )
            if times is not None:
                _widen(self.times, key, times[mask].min(), times[mask].max())
        self.n_rows += len(frame)

    def state(self) -> ChunkedState:
        return ChunkedState(self.n_rows, {k: m.state() for k, m in self.monitors.items()}, dict(self.times))

    def merge(self, state: ChunkedState) -> None:
        for key, chunk in state.chunks.items():
            self.monitors.setdefault(key, self.make()).merge(chunk)
        for key, (first, last) in state.times.items():
            _widen(self.times, key, first, last)
        self.n_rows += state.n_rows

    def ordered(self) -> list[str]:
        return sorted(self.monitors, key=self.chunking.order)

    def whole(self) -> DriftMonitor:
        """The batch as one: the single monitor, or the merge of every chunk's."""
        if not self.chunking.chunked:
            return self.monitors.get(WHOLE) or self.make()
        whole = self.make()
        for key in self.ordered():
            whole.merge(self.monitors[key].state())
        return whole

    def time_range(self) -> dict[str, str] | None:
        if not self.times:
            return None
        first = min(t[0] for t in self.times.values())
        last = max(t[1] for t in self.times.values())
        return {"column": str(self.chunking.column), "first": _text(first), "last": _text(last)}


def _widen(times: dict[str, tuple[Any, Any]], key: str, first: Any, last: Any) -> None:
    if key in times:
        first, last = min(first, times[key][0]), max(last, times[key][1])
    times[key] = (first, last)


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def chunk_summary(key: str, end: str | None, report: Any, first: Any = None, last: Any = None) -> dict[str, Any]:
    """A chunk's report, as the JSON and the history keep it: the verdict, and per metric its value,
    the threshold it was judged against and its bound from the reference period."""
    e, q, m = report.estimated_performance, report.performance, report.multivariate
    return {
        "chunk": key,
        "start": key if end is not None else None,
        "end": end,
        "first": None if first is None else _text(first),
        "last": None if last is None else _text(last),
        "n_rows": report.n_current,
        "status": report.status,
        "drift_detected": report.drift_detected,
        "reasons": report.reasons,
        "features": {
            name: {
                "effect_size": f.effect_size,
                "effect_threshold": f.effect_threshold,
                "alert_bound": f.alert_bound,
                "p_value_adjusted": f.p_value_adjusted,
                "drift": f.drift,
            }
            for name, f in report.features.items()
        },
        "prediction": {
            "effect_size": report.prediction_drift.effect_size,
            "effect_threshold": report.prediction_drift.effect_threshold,
            "alert_bound": report.prediction_drift.alert_bound,
            "mean_probability": report.prediction_drift.mean_probability_current,
            "drift": report.prediction_drift.drift,
        },
        "estimated_performance": {
            "roc_auc": e.roc_auc,
            "roc_auc_lower": e.roc_auc_lower,
            "roc_auc_upper": e.roc_auc_upper,
            "drop_detected": e.drop_detected,
        },
        "performance": None if q is None else {"n_labelled": q.n_labelled, "roc_auc": q.roc_auc, "drift": q.drift},
        "multivariate": None if m is None else {"roc_auc": m.roc_auc, "bound": m.bound, "drift": m.drift},
        "estimated_profit": None
        if report.estimated_profit is None
        else {
            "profit_per_customer": report.estimated_profit.profit_per_customer,
            "low": report.estimated_profit.low,
            "high": report.estimated_profit.high,
            "realised_per_customer": report.estimated_profit.realised_per_customer,
        },
    }
