"""churnctl labels add / show."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import FormatOption, ModelOption, WaitOption
from churnctl.cli.render import OutputFormat, emit, fmt, table

app = typer.Typer(
    help="Labels that arrive after the predictions: join them, and see the model's realised performance.",
    no_args_is_help=True,
)

PeriodOption = Annotated[
    str, typer.Option("--period", metavar="day|week|month", help="Realised performance per day, week or month.")
]


@app.command("add")
def add_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV/Parquet file of customer ids and their labels.")],
    id_column: Annotated[
        str, typer.Option("--id-column", metavar="COLUMN", help="The id column, in the labels and the predictions.")
    ],
    target: Annotated[
        Optional[str],
        typer.Option("--target", metavar="COLUMN", help="The label column (default: the model's target column)."),
    ] = None,
    predictions: Annotated[
        Optional[list[str]],
        typer.Option(
            "--predictions",
            metavar="PATH",
            help="A prediction log or files of 'churnctl predict --output' (repeatable; default: this registry's "
            "prediction log).",
        ),
    ] = None,
    scored_at: Annotated[
        Optional[str],
        typer.Option(
            "--scored-at", metavar="DATE", help="When the scored files were scored (default: each file's time)."
        ),
    ] = None,
    period: PeriodOption = "month",
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Join labels to the predictions already made and store them; adding a file twice changes nothing.

    Example: churnctl labels add churned-2026-10.csv --id-column CustomerId --predictions scored-2026-10.csv
    """
    from churnctl.lifecycle.labels import add_labels

    result = add_labels(
        state(ctx).registry,
        str(file),
        id_column=id_column,
        target=target,
        predictions=predictions,
        scored_at=scored_at,
        period=period,
        wait=wait,
    )

    def text(out: Console) -> None:
        if result.already_added:
            out.print(f"{result.file}: added before, nothing changed")
        else:
            out.print(
                f"{result.file}: {result.labels} labelled ids, {result.matched} matched a prediction, "
                f"{result.unmatched} did not; {result.added} labelled prediction(s) added"
                + (f", {result.already_labelled} already labelled" if result.already_labelled else "")
            )
        _performance(out, result.performance, result.period)

    emit(result, format, text)


@app.command("show")
def show_command(
    ctx: typer.Context,
    period: PeriodOption = "month",
    model: ModelOption = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Realised performance per period and model version, from every label added so far.

    Example: churnctl labels show --period week --format json
    """
    from churnctl.lifecycle.labels import labels_performance

    result = labels_performance(state(ctx).registry, period=period, version=model)

    def text(out: Console) -> None:
        if not result.performance:
            if result.labelled_predictions and result.model_version:
                out.print(f"no labelled predictions of {result.model_version} (other versions have some)")
            else:
                out.print("no labels yet: run 'churnctl labels add FILE --id-column COLUMN'")
            return
        _performance(out, result.performance, result.period)

    emit(result, format, text)


def _performance(out: Console, rows: list[dict[str, Any]], period: str) -> None:
    if not rows:
        return
    out.print(
        table(
            f"Realised performance per {period} (by the predictions' time)",
            [
                "period",
                "model",
                "customers",
                "churn rate",
                "mean probability",
                "ROC-AUC",
                "PR-AUC",
                "precision",
                "recall",
            ],
            [
                [
                    r["period"],
                    r["model_version"],
                    r["n_rows"],
                    f"{r['churn_rate']:.1%}",
                    f"{r['mean_probability']:.1%}",
                    fmt(r["roc_auc"], 3),
                    fmt(r["pr_auc"], 3),
                    fmt(r["precision"], 3),
                    fmt(r["recall"], 3),
                ]
                for r in rows
            ],
            optional=("PR-AUC", "mean probability"),
        )
    )
