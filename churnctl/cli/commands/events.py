"""churnctl events."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import FormatOption
from churnctl.cli.render import OutputFormat, emit, table, when

SHOWN = ("version", "dataset_id", "model_version", "status", "outcome", "drifted_features", "reason", "previous")


def events_command(
    ctx: typer.Context,
    kind: Annotated[
        Optional[list[str]],
        typer.Option("--kind", metavar="KIND", help="Only events of this kind (repeatable): drift_checked, retrain..."),
    ] = None,
    since: Annotated[
        Optional[str], typer.Option("--since", help="Only events at or after this ISO date/time (UTC).")
    ] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Only the last N events.")] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Show the registry's event log: datasets added, trainings, promotions, retrains, drift checks.

    Example: churnctl events --kind drift_checked --since 2026-11-01 --format json
    """
    from churnctl.lifecycle.events import list_events

    found = list_events(state(ctx).registry, kinds=kind, since=since, limit=limit)

    def text(out: Console) -> None:
        if not found:
            out.print("no events")
            return
        rows = []
        for event in found:
            details = "; ".join(f"{k}={event[k]}" for k in SHOWN if event.get(k) not in (None, "", []))
            rows.append([when(event.get("time")), event.get("event"), details])
        out.print(table("Events", ["time (UTC)", "event", "details"], rows))

    emit(found, format, text, key="events")
