"""The benchmark's tables: measurements against their anchors and targets, and growth with rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tests.bench.measure import Series

MIB_PER_GB = 1024
LINEAR = 1.25  # "grows linearly": the cost per row at most this much higher at the larger size
FLAT = 1.25  # "flat": peak RSS at most this much higher at the larger size
FLAT_FROM = 1_000_000  # the issue asks for flat memory from 1M rows up


@dataclass
class Target:
    """One target of the issue; ``value`` is what was measured (None: not measured)."""

    label: str
    value: float | None
    limit: float
    at_least: bool = False  # a floor on the value (a speed-up) instead of a ceiling

    def verdict(self) -> str:
        if self.value is None:
            return f"{self.label} → not measured"
        if self.value <= 0:  # nothing flagged, nothing measured: met for a ceiling, missed for a floor
            return f"{self.label} → " + ("short" if self.at_least else "met")
        factor = self.limit / self.value if self.at_least else self.value / self.limit
        return f"{self.label} → met" if factor <= 1 else f"{self.label} → short: {factor:.2f}×"


@dataclass
class Row:
    """One operation at one size: ours, its anchor (the floor), the peer when there is one."""

    operation: str
    rows: int
    ours: Series
    anchor: Series | None = None
    peer: Series | None = None
    peer_failed: bool = False
    scales: bool = True  # rows vary with the size (not the one-row and --help measurements; 0 rows: --help)
    targets: list[Target] = field(default_factory=list)

    @property
    def anchor_ratio(self) -> float | None:
        return self.ours.median / self.anchor.median if self.anchor else None

    @property
    def peer_speedup(self) -> float | None:
        if self.peer is None or self.peer_failed or not self.peer.samples:
            return None
        return self.peer.median / self.ours.median

    @property
    def us_per_row(self) -> float:
        return self.ours.median / max(self.rows, 1) * 1e6


def seconds(value: float) -> str:
    return (
        f"{value:.3f}"
        if value < 1
        else f"{value:.2f}"
        if value < 10
        else f"{value:.1f}"
        if value < 100
        else f"{value:.0f}"
    )


def timing(series: Series | None, failed: bool = False) -> str:
    if failed:
        return "failed (see notes)"
    if series is None or not series.samples:
        return "–"
    if len(series.samples) == 1:
        return seconds(series.median)
    return f"{seconds(series.median)} ({seconds(series.low)}–{seconds(series.high)})"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def memory(mib: float) -> str:
    return f"{mib / MIB_PER_GB:.2f} GB" if mib >= MIB_PER_GB else f"{mib:.0f} MiB"


def main_table(rows: list[Row]) -> list[str]:
    lines = [
        "| operation | rows | ours s | anchor s | peer s | ours / anchor | peer / ours | our peak RSS | µs/row "
        "| targets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    order = {op: i for i, op in reversed(list(enumerate(r.operation for r in rows)))}
    for row in sorted(rows, key=lambda r: order[r.operation]):  # by operation, sizes in measured order
        cells = [
            row.operation,
            f"{row.rows:,}" if row.rows else "–",
            timing(row.ours),
            timing(row.anchor),
            timing(row.peer, row.peer_failed),
            ratio(row.anchor_ratio),
            ratio(row.peer_speedup),
            memory(row.ours.rss_mib),
            f"{row.us_per_row:.2f}" if row.scales else "–",
            "; ".join(t.verdict() for t in row.targets) or "–",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def scaling_table(rows: list[Row], flat_memory: set[str]) -> list[str]:
    """Growth from each size to the next (and smallest to largest): time, cost per row, peak RSS.
    Operations in ``flat_memory`` also get the flat-RSS target, on the steps from 1M rows up (or on
    the last step when no size reaches 1M)."""
    by_operation: dict[str, list[Row]] = {}
    for row in rows:
        if row.scales:
            by_operation.setdefault(row.operation, []).append(row)
    lines = [
        "| operation | rows | rows × | time × | µs/row | per-row cost × | peak RSS | peak RSS × | targets |",
        "| --- | --- | ---: | ---: | --- | ---: | --- | ---: | --- |",
    ]
    for operation, series in by_operation.items():
        series = sorted(series, key=lambda r: r.rows)
        steps = list(itertools.pairwise(series))
        flat_steps = [s for s in steps if s[0].rows >= FLAT_FROM] or steps[-1:]
        if len(series) > 2:
            steps.append((series[0], series[-1]))
        for small, large in steps:
            per_row = large.us_per_row / small.us_per_row
            rss = large.ours.rss_mib / small.ours.rss_mib
            targets = [Target(f"linear (per-row cost ≤ {LINEAR}×)", per_row, LINEAR)]
            if operation in flat_memory and any(a is small and b is large for a, b in flat_steps):
                targets.append(Target(f"RSS flat (≤ {FLAT}×)", rss, FLAT))
            cells = [
                operation,
                f"{small.rows:,} → {large.rows:,}",
                f"{large.rows / small.rows:.1f}×",
                f"{large.ours.median / small.ours.median:.2f}×",
                f"{small.us_per_row:.2f} → {large.us_per_row:.2f}",
                f"{per_row:.2f}×",
                f"{memory(small.ours.rss_mib)} → {memory(large.ours.rss_mib)}",
                f"{rss:.2f}×",
                "; ".join(t.verdict() for t in targets),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines if len(lines) > 2 else []


def document(
    title: str,
    machine: list[tuple[str, str]],
    rows: list[Row],
    flat_memory: set[str],
    notes: list[str],
    extra: list[str],
) -> str:
    out = [f"## {title}", "", "| machine | |", "| --- | --- |"]
    out += [f"| {item} | {value} |" for item, value in machine]
    out += ["", *main_table(rows)] if rows else []
    scaling = scaling_table(rows, flat_memory)
    if scaling:
        out += ["", "Growth with rows:", "", *scaling]
    if extra:
        out += ["", *extra]
    out += ["", "Notes:", ""]
    out += [f"- {note}" for note in notes]
    return "\n".join(out) + "\n"
