"""churnctl ingest."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import Engine, EngineOption, FormatOption, SchedulerOption, WaitOption
from churnctl.cli.render import OutputFormat, emit, key_values, styled, table


def ingest_command(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="CSV or Parquet file with one row per customer, or a folder, glob or URL of such parts.",
        ),
    ],
    target: Annotated[Optional[str], typer.Option("--target", help="Target column (churn label).")] = None,
    positive: Annotated[
        Optional[str],
        typer.Option(
            "--positive", help="Target value meaning churn (default: recognised from 1/Yes/True/churned ...)."
        ),
    ] = None,
    test_size: Annotated[
        Optional[float], typer.Option("--test-size", help="Share of rows held out for testing [default: 0.2].")
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the stratified split [default: 42].")] = None,
    keep_column: Annotated[
        Optional[list[str]],
        typer.Option(
            "--keep-column",
            metavar="COL",
            help="Keep COL as a feature although it looks like a leak or an identifier (repeatable).",
        ),
    ] = None,
    group_column: Annotated[
        Optional[str],
        typer.Option(
            "--group-column",
            metavar="COL",
            help="Rows of one COL value (a customer) stay on one side of the split and in one fold "
            "[default: an identifier that repeats].",
        ),
    ] = None,
    time_column: Annotated[
        Optional[str],
        typer.Option(
            "--time-column",
            metavar="COL",
            help="Evaluate out of time: the newest rows by COL are the test split; folds go forward in time.",
        ),
    ] = None,
    test_from: Annotated[
        Optional[str],
        typer.Option("--test-from", metavar="DATE", help="With --time-column: the test split starts at DATE."),
    ] = None,
    wait: WaitOption = 0.0,
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Infer the data contract of DATA and store it as a dataset version with a train/test split.

    Inputs of more rows than [data] memory_rows (1,000,000) are read part by part in bounded memory, on
    this machine or (--engine dask) on the workers of a Dask cluster.

    Examples: churnctl ingest telco.csv --target Churn --positive Yes;
    churnctl ingest 's3://bucket/snapshot-2026-11/' --target Churn --engine dask --scheduler tcp://host:8786
    """
    from churnctl.lifecycle.ingest import ingest
    from churnctl.runtime.engine import open_engine

    st = state(ctx)
    with open_engine(engine.value, scheduler) as runner:
        result = ingest(
            st.registry,
            str(file),
            st.settings,
            target=target,
            positive=positive,
            test_size=test_size,
            seed=seed,
            keep=keep_column,
            group=group_column,
            time=time_column,
            test_from=test_from,
            wait=wait,
            engine=runner,
        )

    def text(out: Console) -> None:
        verb = "stored as" if result.created else "already stored as"
        out.print(styled((result.source, "bold"), f" {verb} dataset ", (result.dataset_id, "bold")))
        out.print(
            key_values(
                None,
                [
                    ("rows", result.n_rows),
                    ("train / test", f"{result.n_train} / {result.n_test}"),
                    ("target", f"{result.target} (churn = {result.positive_label!r})"),
                    ("churn rate", f"{result.churn_rate:.2%}"),
                    ("split", _split_text(result.split)),
                    ("duplicate rows", f"{result.duplicates} ({result.duplicates / max(result.n_rows, 1):.1%})"),
                ],
            )
        )
        out.print(
            table(
                "Features",
                ["column", "kind", "distinct", "missing", "ROC-AUC alone"],
                [
                    [f["name"], f["kind"], f["n_unique"], f"{f['missing_rate']:.1%}", f["alone_auc"]]
                    for f in result.features
                ],
                optional=("distinct",),
            )
        )
        if result.excluded:
            out.print(
                table(
                    "Excluded",
                    ["column", "role", "why"],
                    [[e["name"], e["role"], e["reason"]] for e in result.excluded],
                )
            )

    emit(result, format, text)


def _split_text(split: dict) -> str:
    """How the rows were split, in a few words."""
    kind = split.get("kind", "stratified random")
    if kind == "out of time":
        train, test = f"{split['train_from']} to {split['train_to']}", f"{split['test_from']} to {split['test_to']}"
        return f"out of time by {split['time_column']}: train {train}, test {test}"
    if kind == "grouped" and "n_groups" in split:
        return f"grouped: {split.get('n_groups')} groups, {split.get('n_test_groups')} in the test split"
    if "rule" in split:  # decided row by row, as a streamed ingest does
        return f"{kind}: {split['rule']}"
    return kind
