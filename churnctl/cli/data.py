"""simulate and ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from churnctl.cli.app import state
from churnctl.cli.render import OutputFormat, console, emit_json, key_values, styled, table

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text (tables) or json (one document).")]
WaitOption = Annotated[float, typer.Option("--wait", help="Seconds to wait for the registry lock (default: fail at once).")]


def simulate_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .csv, .parquet or .json.")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="Number of customers.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same file.")] = 0,
    shift: Annotated[Optional[list[str]], typer.Option(
        "--shift", help="Shift a numeric column: COL=AMOUNT (raw units) or COL=0.25sd. Repeatable.")] = None,
    mix: Annotated[Optional[list[str]], typer.Option(
        "--mix", help="Change a category mix: COL=CAT:SHARE[,CAT:SHARE]. Repeatable.")] = None,
    new_category: Annotated[Optional[list[str]], typer.Option(
        "--new-category", help="Add an unseen category: COL=NAME:SHARE. Repeatable.")] = None,
    missing: Annotated[Optional[list[str]], typer.Option(
        "--missing", help="Blank out a share of a column: COL=SHARE. Repeatable.")] = None,
    concept_drift: Annotated[float, typer.Option(
        "--concept-drift", help="Blend in the alternative churn mechanism: 0 (none) to 1 (fully).")] = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Write synthetic bank customers with a known churn mechanism and optional drift."""
    from churnctl import workflows
    from churnctl.simulate import parse_drift

    drift = parse_drift(shift or (), mix or (), new_category or (), missing or (), concept_drift)
    result = workflows.simulate(rows, seed, str(output), drift)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
    else:
        console().print(f"wrote {result.rows} customers to {result.output} "
                        f"(churn rate {result.churn_rate:.1%}, seed {result.seed}"
                        + (f", drift {result.drift}" if result.drift else "") + ")")


def ingest_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file with one row per customer.")],
    target: Annotated[Optional[str], typer.Option("--target", help="Target column (churn label).")] = None,
    positive: Annotated[Optional[str], typer.Option(
        "--positive", help="Target value meaning churn (default: recognised from 1/Yes/True/churned ...).")] = None,
    test_size: Annotated[Optional[float], typer.Option("--test-size", help="Share of rows held out for testing [default: 0.2].")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the stratified split [default: 42].")] = None,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Infer the data contract of FILE and store it as a dataset version with a train/test split."""
    from churnctl import workflows

    st = state()
    result = workflows.ingest(st.registry, str(file), st.settings, target=target, positive=positive,
                              test_size=test_size, seed=seed, wait=wait)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
        return
    out = console()
    verb = "stored as" if result.created else "already stored as"
    out.print(styled((result.source, "bold"), f" {verb} dataset ", (result.dataset_id, "bold")))
    out.print(key_values(None, [
        ("rows", result.n_rows), ("train / test", f"{result.n_train} / {result.n_test}"),
        ("target", f"{result.target} (churn = {result.positive_label!r})"),
        ("churn rate", f"{result.churn_rate:.2%}"),
    ]))
    out.print(table("Features", ["column", "kind", "distinct", "missing"],
                    [[f["name"], f["kind"], f["n_unique"], f"{f['missing_rate']:.1%}"] for f in result.features]))
    if result.excluded:
        out.print(table("Excluded", ["column", "role", "why"],
                        [[e["name"], e["role"], e["reason"]] for e in result.excluded]))
