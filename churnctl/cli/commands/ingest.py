"""churnctl ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import FormatOption, WaitOption
from churnctl.cli.render import OutputFormat, emit, key_values, styled, table


def ingest_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file with one row per customer.")],
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
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Infer the data contract of FILE and store it as a dataset version with a train/test split.

    Example: churnctl ingest telco.csv --target Churn --positive Yes
    """
    from churnctl.lifecycle.ingest import ingest

    st = state(ctx)
    result = ingest(
        st.registry, str(file), st.settings, target=target, positive=positive, test_size=test_size, seed=seed, wait=wait
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
                ],
            )
        )
        out.print(
            table(
                "Features",
                ["column", "kind", "distinct", "missing"],
                [[f["name"], f["kind"], f["n_unique"], f"{f['missing_rate']:.1%}"] for f in result.features],
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
