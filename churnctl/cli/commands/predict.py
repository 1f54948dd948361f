"""churnctl predict."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import Engine, EngineOption, ModelOption, SchedulerOption, ValueOption
from churnctl.cli.progress import progress_bars
from churnctl.cli.render import OutputFormat, emit, key_values, table
from churnctl.errors import UsageError
from churnctl.reports.cells import money

if TYPE_CHECKING:
    from churnctl.config import Settings
    from churnctl.lifecycle.predict_batch import PredictFileResult
    from churnctl.model.scorer import PredictRowsResult


class PredictFormat(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"


def predict_command(
    ctx: typer.Context,
    json_rows: Annotated[
        Optional[str],
        typer.Option("--json", help="JSON file: one object, an array of objects, or JSON Lines; '-' reads stdin."),
    ] = None,
    input: Annotated[
        Optional[str],
        typer.Option(
            "--input",
            help="CSV/Parquet batch to score: a file, folder, glob or URL of parts; '-' reads CSV from stdin.",
        ),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="Where to write scored rows of --input (.csv or .parquet; '-' or none: stdout; with --engine dask "
            "a new folder, one Parquet file per input part).",
        ),
    ] = None,
    model: ModelOption = None,
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="With --json: add each row's top 3 reasons (feature, value, change in churn probability "
            "against the training data's typical value).",
        ),
    ] = False,
    format: Annotated[
        Optional[PredictFormat],
        typer.Option(
            "--format",
            help="json, jsonl (one line per row) or text [default: the shape of the --json input: an object, an "
            "array, or JSON Lines]; with --input, the summary format.",
        ),
    ] = None,
    rank: Annotated[
        bool,
        typer.Option(
            "--rank",
            help="With --input: the campaign list instead, customers ranked by the expected net value of "
            "contacting them ([value] settings), with the cumulative cost and expected saving.",
        ),
    ] = False,
    top: Annotated[
        Optional[int],
        typer.Option("--top", metavar="K", min=1, help="With --input: only the K customers most worth contacting."),
    ] = None,
    budget: Annotated[
        Optional[float],
        typer.Option(
            "--budget",
            metavar="AMOUNT",
            help="With --input: only the customers this budget pays for, in expected cost (contact, plus "
            "the incentive when taken), best first, while contacting still gains.",
        ),
    ] = None,
    value: ValueOption = None,
) -> None:
    """Score customers: JSON rows (--json) or a CSV/Parquet batch (--input).

    Examples: churnctl predict --json row.json; cat rows.jsonl | churnctl predict --json - --format jsonl;
    churnctl predict --input batch.csv --output scored.parquet; churnctl predict --input - < batch.csv;
    churnctl predict --input customers.csv --top 500 --output call-list.csv
    """
    if output is not None and str(output) == "-":
        output = None  # stdout
    if json_rows is not None and (engine != "local" or scheduler):
        raise UsageError("--engine and --scheduler go with --input", hint="--json rows are scored in this process")
    if (json_rows is None) == (input is None):
        raise UsageError(
            "give exactly one of --json FILE and --input FILE",
            hint="--json for a few rows as JSON, --input for a CSV/Parquet batch",
        )
    if explain and json_rows is None:
        raise UsageError(
            "--explain goes with --json", hint="explain a few rows: churnctl predict --json rows.json --explain"
        )
    ranked = rank or top is not None or budget is not None
    if ranked and json_rows is not None:
        raise UsageError("--rank, --top and --budget go with --input", hint="rank a file of customers")
    if budget is not None and not budget > 0:
        raise UsageError(f"--budget {budget} is out of range: expected a positive amount")
    if json_rows is not None:
        if output is not None:
            raise UsageError("--output goes with --input; --json writes its predictions to stdout")
        _predict_json(ctx, json_rows, model, explain, format)
    else:
        assert input is not None
        _predict_input(ctx, input, output, model, engine, scheduler, format, (top, budget, value) if ranked else None)


def _predict_json(
    ctx: typer.Context, json_rows: str, model: str | None, explain: bool, format: PredictFormat | None
) -> None:
    from churnctl.lifecycle.predict import predict_json

    st = state(ctx)
    rows = predict_json(st.registry, st.settings, json_rows, version=model, explain=explain)
    if format is PredictFormat.jsonl or (format is None and rows.lines):  # the shape that came in
        for record in rows.predictions:
            sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    else:
        emit(rows.document(), OutputFormat(format or "json"), partial(_rows_text, rows), versioned=False)


def _rows_text(rows: PredictRowsResult, out: Console) -> None:
    columns = list(rows.predictions[0])
    out.print(
        table(
            f"Predictions of model {rows.model_version}",
            columns,
            [[_cell(c, r[c]) for c in columns] for r in rows.predictions],
        )
    )


def _predict_input(
    ctx: typer.Context,
    input: str,
    output: Path | None,
    model: str | None,
    engine: Engine,
    scheduler: str | None,
    format: PredictFormat | None,
    ranked: tuple[int | None, float | None, list[str] | None] | None = None,
) -> None:
    if format is PredictFormat.jsonl:
        raise UsageError("--format jsonl goes with --json; --input writes CSV or Parquet rows")
    if output is None and format is PredictFormat.json and ranked is None:
        raise UsageError(
            "without --output the scored rows go to stdout as CSV, so there is no room for a JSON summary",
            hint="add --output FILE to get a JSON summary",
        )
    from churnctl.data.outputs import spooled_stdin
    from churnctl.lifecycle.predict_batch import predict_file
    from churnctl.runtime.engine import open_engine

    if engine != "local" and ranked is None:
        if input == "-" or output is None:
            raise UsageError(
                "--engine dask reads files and writes a folder",
                hint="give --input FILE|FOLDER|GLOB and --output FOLDER",
            )
        from churnctl.data.outputs import check_output_folder

        check_output_folder(output)  # before a cluster starts
    st = state(ctx)
    settings, ranking = st.settings, None
    if ranked is not None:
        settings, ranking = _ranking(st.settings, *ranked)
    with progress_bars(ctx) as progress, spooled_stdin(input) as source, open_engine(engine.value, scheduler) as runner:
        result = predict_file(
            st.registry,
            settings,
            source,
            output=str(output) if output else None,
            version=model,
            progress=progress,
            engine=runner,
            label="stdin" if input == "-" else None,
            ranking=ranking,
            return_list=format is PredictFormat.json,
        )
    if output is not None or result.customers is not None:  # else the rows went to stdout
        emit(result, OutputFormat(format or "text"), partial(_summary_text, result))


def _ranking(settings: Settings, top: int | None, budget: float | None, value: list[str] | None) -> tuple:
    """The settings with --value applied, and the ranking of --rank, --top and --budget."""
    from churnctl.config import value_options
    from churnctl.lifecycle.predict_batch import Ranking
    from churnctl.value.campaign import Campaign

    settings = value_options(settings, value)
    campaign = Campaign.from_settings(settings.value)
    if campaign is None:
        raise UsageError(
            "--rank, --top and --budget rank customers by the money a contact is worth, and no customer value is set",
            hint="set [value] customer_value (or customer_value_column), contact_cost and incentive_cost, or "
            "pass --value customer_value=... --value contact_cost=...",
        )
    return settings, Ranking(campaign, top, budget)


def _summary_text(result: PredictFileResult, out: Console) -> None:
    if result.contact is not None:
        c = result.contact
        out.print(
            key_values(
                f"Campaign list from {result.n_rows:,} customers scored by model {result.model_version}",
                [
                    ("output", result.output or "(in the JSON document)"),
                    ("customers to contact", f"{c['customers']:,}"),
                    ("expected cost", money(c["expected_cost"])),
                    ("expected saving", money(c["expected_saving"])),
                    (
                        "ends",
                        {"budget": "at the budget", "no gain": "where contacting stops paying"}.get(
                            c["stopped"] or "", "at --top" if c["top"] else "with every customer"
                        ),
                    ),
                ],
            )
        )
        return
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


def _cell(column: str, value: object) -> object:
    """A table cell; reasons as ``feature=value (+0.123)``, one per line."""
    if column != "reasons" or not isinstance(value, list):
        return value
    return "\n".join(f"{r['feature']}={r['value']} ({r['effect']:+.3f})" for r in value)
