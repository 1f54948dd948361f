"""churnctl simulate."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.options import FormatOption
from churnctl.cli.render import OutputFormat, emit


class ProfileName(StrEnum):  # churnctl.synthetic.PROFILES (tested)
    bank = "bank"
    telco = "telco"
    usage = "usage"


def simulate_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .csv, .parquet or .json.")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="Number of customers.")] = 10_000,
    profile: Annotated[
        ProfileName,
        typer.Option(
            "--profile",
            help="Kind of churn file: bank (target Exited), telco (many Yes/No columns, target Churn) or "
            "usage (telecom usage with a 51-value State column, target Churn).",
        ),
    ] = ProfileName.bank,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same file.")] = 0,
    shift: Annotated[
        Optional[list[str]],
        typer.Option(
            "--shift",
            metavar="COL=AMOUNT",
            help="Shift a numeric column: COL=AMOUNT (raw units) or COL=0.25sd. Repeatable.",
        ),
    ] = None,
    mix: Annotated[
        Optional[list[str]],
        typer.Option(
            "--mix", metavar="COL=CAT:SHARE", help="Change a category mix: COL=CAT:SHARE[,CAT:SHARE]. Repeatable."
        ),
    ] = None,
    new_category: Annotated[
        Optional[list[str]],
        typer.Option(
            "--new-category", metavar="COL=NAME:SHARE", help="Add an unseen category: COL=NAME:SHARE. Repeatable."
        ),
    ] = None,
    missing: Annotated[
        Optional[list[str]],
        typer.Option("--missing", metavar="COL=SHARE", help="Blank out a share of a column: COL=SHARE. Repeatable."),
    ] = None,
    concept_drift: Annotated[
        float, typer.Option("--concept-drift", help="Blend in the alternative churn mechanism: 0 (none) to 1 (fully).")
    ] = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Write synthetic customers with a known churn mechanism and optional drift.

    Example: churnctl simulate --rows 2000 --seed 8 --shift Age=+5 --output drifted.csv
    """
    from churnctl.lifecycle.simulate import simulate
    from churnctl.synthetic import parse_drift

    drift = parse_drift(
        shift or (), mix or (), new_category or (), missing or (), concept_drift, profile_name=profile.value
    )
    result = simulate(rows, seed, str(output), drift, profile_name=profile.value)

    def text(out: Console) -> None:
        out.print(
            f"wrote {result.rows} {result.profile} customers to {result.output} (target {result.target}, "
            f"churn rate {result.churn_rate:.1%}, "
            f"seed {result.seed}" + (f", drift {result.drift}" if result.drift else "") + ")"
        )

    emit(result, format, text)
