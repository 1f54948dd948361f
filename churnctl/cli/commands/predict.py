"""churnctl predict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import ModelOption
from churnctl.cli.progress import progress_bars
from churnctl.cli.render import OutputFormat, emit, key_values, table
from churnctl.errors import UsageError


def predict_command(
    ctx: typer.Context,
    json_rows: Annotated[
        Optional[str], typer.Option("--json", help="JSON file with one object or an array of objects; '-' reads stdin.")
    ] = None,
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV/Parquet batch to score.")] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="Where to write scored rows of --input (.csv or .parquet; default: CSV on stdout)."
        ),
    ] = None,
    model: ModelOption = None,
    format: Annotated[
        Optional[OutputFormat],
        typer.Option("--format", help="json (default for --json) or text; with --input, the summary format."),
    ] = None,
) -> None:
    """Score customers: JSON rows (--json) or a CSV/Parquet batch (--input)."""
    st = state(ctx)
    if (json_rows is None) == (input is None):
        raise UsageError(
            "give exactly one of --json FILE and --input FILE",
            hint="--json for a few rows as JSON, --input for a CSV/Parquet batch",
        )
    if json_rows is not None:
        if output is not None:
            raise UsageError("--output goes with --input; --json writes its predictions to stdout")
        # The compiled scorer needs neither scikit-learn nor pandas; versions without one (or rows it
        # cannot type exactly as pandas would) are scored by the scikit-learn path.
        from churnctl.lifecycle.predict_compiled import predict_rows_compiled
        from churnctl.rows import read_rows

        parsed, single, name = read_rows(json_rows)
        rows = predict_rows_compiled(st.registry, st.settings, parsed, single, name, version=model)
        if rows is None:
            from churnctl.lifecycle.predict import predict_parsed_rows

            rows = predict_parsed_rows(st.registry, st.settings, parsed, single, name, version=model)

        def rows_text(out: Console) -> None:
            columns = list(rows.predictions[0])
            out.print(
                table(
                    f"Predictions of model {rows.model_version}",
                    columns,
                    [[r[c] for c in columns] for r in rows.predictions],
                )
            )

        emit(rows.document(), format or OutputFormat.json, rows_text)
        return
    if output is None and format is OutputFormat.json:
        raise UsageError(
            "without --output the scored rows go to stdout as CSV, so there is no room for a JSON summary",
            hint="add --output FILE to get a JSON summary",
        )
    from churnctl.lifecycle.predict import predict_file

    with progress_bars(ctx) as progress:
        result = predict_file(
            st.registry,
            st.settings,
            str(input),
            output=str(output) if output else None,
            version=model,
            progress=progress,
        )
    if output is None:
        return  # the scored rows went to stdout

    def text(out: Console) -> None:
        out.print(
            key_values(
                f"Scored {result.n_rows} rows with model {result.model_version}",
                [
                    ("output", result.output),
                    ("predicted churners", result.n_churn),
                    ("mean probability", result.mean_probability),
                    ("risk levels", ", ".join(f"{k} {v}" for k, v in result.risk_levels.items())),
                ],
            )
        )

    emit(result, format or OutputFormat.text, text)
