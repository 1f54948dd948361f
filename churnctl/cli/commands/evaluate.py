"""churnctl evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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
from churnctl.cli.render import (
    OutputFormat,
    deciles_table,
    emit,
    fmt,
    importance_table,
    metrics_table,
    table,
    value_table,
)
from churnctl.config import value_options
from churnctl.errors import UsageError


def evaluate_command(
    ctx: typer.Context,
    model: ModelOption = None,
    data: Annotated[
        Optional[str],
        typer.Option(
            "--data",
            help="Labelled CSV/Parquet file, folder, glob or URL of parts (default: the model's held-out test split).",
        ),
    ] = None,
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
    format: FormatOption = OutputFormat.text,
    metrics_file: MetricsFileOption = None,
    report: Annotated[
        Optional[Path],
        typer.Option("--report", metavar="FILE.html", help="Also write a self-contained HTML report with plots."),
    ] = None,
    value: ValueOption = None,
) -> None:
    """Evaluate a model version on its test split or on a labelled file.

    With [value] settings (or --value), also the campaign's profit: at the model's threshold, at the
    best one, as a curve over the share contacted, and the expected maximum profit (EMP).

    Examples: churnctl evaluate --model v0002 --data labelled-march.csv;
    churnctl evaluate --value customer_value=1200 --value contact_cost=5 --value incentive_cost=50;
    churnctl evaluate --data 's3://bucket/labelled/2026-11/*.parquet' --engine dask --scheduler tcp://host:8786
    """
    from churnctl.lifecycle.evaluate import evaluate
    from churnctl.runtime.engine import open_engine

    st = state(ctx)
    write_metrics, write_report = metrics_writer(metrics_file), report_writer(report, "evaluation")
    if engine != "local" and data is None:
        raise UsageError("--engine dask goes with --data", hint="the test split is scored in this process")
    with open_engine(engine.value, scheduler) as runner:
        settings = value_options(st.settings, value)
        result = evaluate(st.registry, settings, version=model, data=data, engine=runner)
    write_metrics("evaluate", result, st.registry.current)
    write_report(result)

    def text(out: Console) -> None:
        out.print(metrics_table(result.metrics, f"Model {result.model_version} on {result.data}"))
        if result.split is not None:
            out.print(
                f"split: {result.split.get('kind', 'stratified random')}; test rows with an identical twin in "
                f"training: {result.twins_in_training}"
            )
        out.print(deciles_table(result.deciles))
        if result.value is not None:
            out.print(value_table(result.value))
        out.print(importance_table(result.feature_importance, result.feature_importance_std))
        bins = result.metrics.get("reliability") or []
        if bins:
            out.print(
                table(
                    f"Reliability (expected calibration error {fmt(result.metrics['ece'])})",
                    ["probability", "rows", "mean predicted", "observed churn rate"],
                    [
                        [f"{b['bin_lower']:.1f}-{b['bin_upper']:.1f}", b["n"], b["mean_predicted"], b["observed_rate"]]
                        for b in bins
                    ],
                )
            )

    emit(result, format, text)
