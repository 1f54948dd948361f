"""churnctl monitor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import report_writer, state
from churnctl.cli.options import FormatOption
from churnctl.cli.render import OutputFormat, emit, fmt, table


def monitor_command(
    ctx: typer.Context,
    report_file: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            metavar="FILE.html",
            help="Also write the self-contained history page: performance, predictions, features, alerts over time.",
        ),
    ] = None,
    since: Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="Only from this day on.")] = None,
    period: Annotated[
        str,
        typer.Option("--period", metavar="day|week|month", help="Late labels' realised performance per period."),
    ] = "month",
    format: FormatOption = OutputFormat.text,
) -> None:
    """The drift history over time: every kept drift-check, model changes, late labels' performance.

    Example: churnctl monitor --report history.html --since 2026-01-01
    """
    from churnctl.lifecycle.monitor import monitor

    write_report = report_writer(report_file, "history")
    result = monitor(state(ctx).registry, period=period, since=since)
    write_report(result)
    t = result.timeline

    def text(out: Console) -> None:
        points = t["points"]
        if not points:
            out.print("no drift checks kept yet: run 'churnctl drift-check --current FILE'")
            if t["realised"]:
                late = ", ".join(
                    f"{r['period']} {r['model_version']}: {fmt(r['roc_auc'], 3)}" for r in t["realised"][-6:]
                )
                out.print(f"realised ROC-AUC per {t['period']} (late labels): {late}")
            return
        shown = points[-15:]
        out.print(
            table(
                f"Drift history: {t['checks']} checks, {len(points)} points"
                + (f" (the latest {len(shown)})" if len(shown) < len(points) else ""),
                ["from", "to", "model", "rows", "verdict", "drifting", "estimated ROC-AUC", "realised"],
                [
                    [
                        p["time"][:10],
                        (p["end"] or "")[:10],
                        p["model_version"],
                        p["n_rows"],
                        "DRIFT" if p["drift_detected"] else str(p["status"]).replace("_", " "),
                        ", ".join(n for n, f in p["features"].items() if f.get("drift")) or "–",
                        fmt(p["estimated_roc_auc"]["value"] if p["estimated_roc_auc"] else None, 3),
                        fmt(p["realised_roc_auc"], 3),
                    ]
                    for p in shown
                ],
                optional=("to", "realised", "rows"),
            )
        )
        out.print(f"{len(t['alerts'])} of {len(points)} points alerted; {len(t['marks'])} model change(s)")

    emit(result, format, text)
