"""churnctl drift-check."""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import metrics_writer, report_writer, state
from churnctl.cli.options import (
    Engine,
    EngineOption,
    FormatOption,
    MetricsFileOption,
    ModelOption,
    SchedulerOption,
    ValueOption,
)
from churnctl.cli.progress import progress_bars
from churnctl.cli.render import FittedTable, OutputFormat, emit, fmt, styled, table
from churnctl.config import value_options
from churnctl.errors import EXIT_DRIFT
from churnctl.reports.cells import money

if TYPE_CHECKING:
    from churnctl.drift.result import DriftReport

SHORT = {"wasserstein_sd": "W1/sd", "jensen_shannon": "JS"}


class Correction(StrEnum):
    bh = "bh"
    bonferroni = "bonferroni"


def drift_check_command(
    ctx: typer.Context,
    current: Annotated[
        str,
        typer.Option(
            "--current",
            help="CSV/Parquet batch to check (target column optional): a file, folder, glob or URL of parts, or "
            "the prediction log folder of churnctl serve --log-predictions.",
        ),
    ],
    model: ModelOption = None,
    alpha: Annotated[
        Optional[float], typer.Option("--alpha", help="Significance level after correction [default: 0.05].")
    ] = None,
    correction: Annotated[
        Optional[Correction],
        typer.Option(
            "--correction", help="Multiple-testing correction: bh (Benjamini-Hochberg) or bonferroni [default: bh]."
        ),
    ] = None,
    min_rows: Annotated[
        Optional[int],
        typer.Option("--min-rows", help="Fewer rows than this give status insufficient_data [default: 100]."),
    ] = None,
    chunk: Annotated[
        Optional[str],
        typer.Option(
            "--chunk",
            metavar="day|week|month|N",
            help="Also check the batch in chunks: days, weeks or months of --time-column, or N rows each; the "
            "exit code then follows the latest chunk with enough rows for a verdict.",
        ),
    ] = None,
    time_column: Annotated[
        Optional[str],
        typer.Option(
            "--time-column",
            metavar="COLUMN",
            help="The batch's time column (default: the dataset's, from ingest --time-column).",
        ),
    ] = None,
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
    format: FormatOption = OutputFormat.text,
    metrics_file: MetricsFileOption = None,
    report_file: Annotated[
        Optional[Path],
        typer.Option(
            "--report", metavar="FILE.html", help="Also write a self-contained HTML report with a panel per feature."
        ),
    ] = None,
    value: ValueOption = None,
) -> None:
    """Check a batch for data, prediction and performance drift; exit 1 when drift is detected.

    Examples: churnctl drift-check --current new.csv --format json > drift.json;
    churnctl drift-check --current 'history/2026-11-*.parquet' --engine dask --scheduler tcp://host:8786;
    with [value] settings (or --value) also the campaign's profit on the batch, estimated without labels
    """
    from churnctl.lifecycle.drift_check import drift_check
    from churnctl.runtime.engine import open_engine

    st = state(ctx)
    write_metrics, write_report = metrics_writer(metrics_file), report_writer(report_file, "drift")
    with progress_bars(ctx) as progress, open_engine(engine.value, scheduler) as runner:
        report = drift_check(
            st.registry,
            value_options(st.settings, value),
            current,
            version=model,
            alpha=alpha,
            correction=correction.value if correction else None,
            min_rows=min_rows,
            chunk=chunk,
            time_column=time_column,
            progress=progress,
            keep_distributions=report_file is not None,
            engine=runner,
        )
    write_report(report)
    write_metrics("drift-check", report, st.registry.current)

    emit(report, format, partial(render_text, report))
    latest = _deciding_chunk(report)
    if latest is not None:  # the latest chunk with a verdict decides: has the drift lasted until now?
        if latest["drift_detected"]:
            raise typer.Exit(EXIT_DRIFT)
    elif report.drift_detected:
        raise typer.Exit(EXIT_DRIFT)


def _deciding_chunk(report: DriftReport) -> dict | None:
    """The latest chunk with a verdict (one too small for a verdict, such as a partial last week, does not
    decide); None without chunks, or when no chunk has a verdict (then the whole batch decides)."""
    decided = [c for c in report.chunks or [] if c["status"] != "insufficient_data"]
    return decided[-1] if decided else None


def render_text(report: DriftReport, out: Console) -> None:
    """The text view of a drift report: the chunks (if any), the feature table, then prediction,
    performance and the verdict."""
    if report.chunks:
        out.print(_chunk_table(report))
    out.print(_feature_table(report))
    p = report.prediction_drift
    scored = f" ({p.n_scored} rows scored, a uniform sample)" if p.n_scored < report.n_current else ""
    out.print(
        f"prediction drift{scored}: KS {fmt(p.statistic)}, adjusted p {fmt(p.p_value_adjusted)}, "
        f"effect {fmt(p.effect_size)} SD, mean probability {fmt(p.mean_probability_reference)} -> "
        f"{fmt(p.mean_probability_current)}" + (" DRIFT" if p.drift else "")
    )
    e = report.estimated_performance
    if e is not None and e.roc_auc is not None:
        out.print(
            f"estimated performance without labels (CBPE, {e.n_scored} scored rows): ROC-AUC {fmt(e.roc_auc)} "
            f"[{fmt(e.roc_auc_lower)}, {fmt(e.roc_auc_upper)}] vs {fmt(e.reference_roc_auc)} at training, "
            f"precision {fmt(e.precision)}, recall {fmt(e.recall)}" + (" DROP" if e.drop_detected else "")
        )
    m = report.estimated_profit
    if m is not None:
        realised = "" if m.realised_per_customer is None else f"; realised {money(m.realised_per_customer)}"
        out.print(
            f"campaign profit estimated without labels ({m.n_rows} scored rows, {m.contacted} at or above the "
            f"threshold): {money(m.profit_per_customer)} per customer [{money(m.low)}, {money(m.high)}]{realised}"
            + (" OUTSIDE THE BAND" if m.realised_outside_band else "")
        )
    if report.performance:
        q = report.performance
        out.print(
            f"performance ({q.n_labelled} labelled rows): ROC-AUC {fmt(q.roc_auc)} vs "
            f"{fmt(q.roc_auc_reference)} at training, "
            f"churn rate {fmt(q.churn_rate)} vs {fmt(q.churn_rate_reference)}" + (" DRIFT" if q.drift else "")
        )
    j = report.multivariate
    if j is not None and j.roc_auc is not None:
        out.print(
            f"multivariate drift (domain classifier on {j.n_reference} + {j.n_current} rows): ROC-AUC "
            f"{fmt(j.roc_auc)} against a bound of {fmt(j.bound)}"
            + (" DRIFT: most separating " + ", ".join(c["column"] for c in j.top_columns) if j.drift else "")
        )
    latest = _deciding_chunk(report)
    if latest is not None:
        verdict = "drift" if latest["drift_detected"] else latest["status"].replace("_", " ")
        out.print(f"latest chunk with a verdict, {latest['chunk']}: {verdict} (the exit code follows it)")
    elif report.chunks:
        out.print("no chunk has enough rows for a verdict: the exit code follows the whole batch")
    if report.status == "insufficient_data":
        out.print(styled(("insufficient data", "bold"), f": {report.n_current} rows, no verdict"))
    elif report.drift_detected:
        out.print(styled(("DRIFT DETECTED", "bold red"), ": " + "; ".join(report.reasons)))
    else:
        out.print(styled(("no drift", "bold green")))


def _feature_table(report: DriftReport) -> FittedTable:
    """One row per feature, the most drifted first."""
    ordered = sorted(report.features.items(), key=lambda kv: kv[1].rank)
    rows = []
    for name, f in ordered:
        notes = []
        if f.missing_rate_current or f.missing_rate_reference:
            notes.append(f"missing {f.missing_rate_reference:.1%} -> {f.missing_rate_current:.1%}")
        if f.unseen_categories:
            notes.append("unseen: " + ", ".join(u["value"] for u in f.unseen_categories[:3]))
        rows.append(
            [
                name,
                f.kind,
                f.test,
                f.statistic,
                f.p_value,
                f.p_value_adjusted,
                f"{fmt(f.effect_size)} {SHORT[f.effect_metric]}",
                f.psi,
                "DRIFT" if f.drift else "",
                "; ".join(notes),
            ]
        )
    return table(
        f"Feature drift: {report.n_current} current rows vs {report.n_reference} reference rows "
        f"(model {report.model_version}, {report.correction}, alpha {report.alpha})",
        ["feature", "kind", "test", "statistic", "p-value", "adjusted", "effect size", "PSI", "drift", "notes"],
        rows,
        optional=("statistic", "test", "p-value", "kind", "PSI"),
    )


def _chunk_table(report: DriftReport) -> FittedTable:
    """One row per chunk, in time order: its size, its verdict and what alerted."""
    chunks = report.chunks or []
    rows = []
    for c in chunks:
        drifted = [n for n, f in c["features"].items() if f["drift"]]
        e, m = c["estimated_performance"], c["multivariate"]
        rows.append(
            [
                c["chunk"],
                f"{c['n_rows']:,}",
                "DRIFT" if c["drift_detected"] else c["status"].replace("_", " "),
                ", ".join(drifted) or "–",
                fmt(c["prediction"]["effect_size"], 3),
                fmt(e["roc_auc"], 3),
                "–" if not m or m["roc_auc"] is None else fmt(m["roc_auc"], 3),
            ]
        )
    by = (report.chunking or {}).get("by", "")
    return table(
        f"Chunks ({by}), oldest first",
        ["chunk", "rows", "verdict", "drifting features", "prediction shift", "estimated ROC-AUC", "joint"],
        rows,
        optional=("joint", "estimated ROC-AUC", "prediction shift"),
    )
