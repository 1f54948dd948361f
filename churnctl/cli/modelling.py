"""train, evaluate and predict."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from churnctl.cli.app import state
from churnctl.cli.data import FormatOption, WaitOption
from churnctl.cli.render import OutputFormat, console, emit_json, key_values, metrics_table, styled, table
from churnctl.errors import UsageError

ModelOption = Annotated[Optional[str], typer.Option("--model", help="Model version, e.g. v0003 (default: current).")]


def train_command(
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset id (default: latest).")] = None,
    model: Annotated[Optional[str], typer.Option(
        "--model", help="auto (pick by cross-validated ROC-AUC), logreg or hgb [default: auto].")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of CV folds and estimators [default: 42].")] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Make the new version current.")] = False,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Train a model version on a dataset; the first version becomes current."""
    from churnctl import workflows

    st = state()
    result = workflows.train(st.registry, st.settings, dataset_id=dataset, model=model, seed=seed,
                             promote=promote, wait=wait)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
        return
    out = console()
    status = "now current" if result.promoted else f"not promoted; current is {result.current}"
    out.print(styled("trained model ", (result.version, "bold"), f" on dataset {result.dataset_id} "
                     f"in {result.seconds:.1f}s ({status})"))
    out.print(table("Cross-validated candidates (training split)", ["estimator", "params", "CV ROC-AUC", "±", "s"],
                    [[c["estimator"], ", ".join(f"{k}={v}" for k, v in c["params"].items()),
                      c["cv_roc_auc_mean"], c["cv_roc_auc_std"], c["seconds"]] for c in result.candidates]))
    out.print(key_values(None, [("chosen", result.estimator), ("CV ROC-AUC", result.cv_roc_auc),
                                ("threshold", f"{result.threshold:.4f} ({result.threshold_strategy})")]))
    out.print(metrics_table(result.test_metrics, "Held-out test split"))


def evaluate_command(
    model: ModelOption = None,
    data: Annotated[Optional[Path], typer.Option(
        "--data", help="Labelled CSV/Parquet file (default: the model's held-out test split).")] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Evaluate a model version on its test split or on a labelled file."""
    from churnctl import workflows

    result = workflows.evaluate(state().registry, version=model, data=str(data) if data else None)
    if format is OutputFormat.json:
        emit_json({**result.metrics, "model_version": result.model_version, "data": result.data,
                   "warnings": result.warnings})
        return
    console().print(metrics_table(result.metrics, f"Model {result.model_version} on {result.data}"))


def predict_command(
    json_rows: Annotated[Optional[str], typer.Option(
        "--json", help="JSON file with one object or an array of objects; '-' reads stdin.")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV/Parquet batch to score.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Where to write scored rows of --input (.csv or .parquet; default: CSV on stdout).")] = None,
    model: ModelOption = None,
    format: Annotated[Optional[OutputFormat], typer.Option(
        "--format", help="json (default for --json) or text; with --input, the summary format.")] = None,
) -> None:
    """Score customers: JSON rows (--json) or a CSV/Parquet batch (--input)."""
    from churnctl import workflows

    st = state()
    if (json_rows is None) == (input is None):
        raise UsageError("give exactly one of --json FILE and --input FILE",
                         hint="--json for a few rows as JSON, --input for a CSV/Parquet batch")
    if json_rows is not None:
        if output is not None:
            raise UsageError("--output goes with --input; --json writes its predictions to stdout")
        if json_rows == "-":
            text, source = sys.stdin.read(), "stdin"
        else:
            path = Path(json_rows)
            if not path.is_file():
                from churnctl.errors import DataError
                raise DataError(f"JSON file {path} does not exist", hint="check the path, or use '-' for stdin")
            text, source = path.read_text(encoding="utf-8", errors="replace"), str(path)
        result = workflows.predict_rows(st.registry, st.settings, text, source=source, version=model)
        if format is OutputFormat.text:
            rows = result.predictions
            columns = list(rows[0])
            console().print(table(f"Predictions of model {result.model_version}", columns,
                                  [[r[c] for c in columns] for r in rows]))
        else:
            emit_json(result.document())
        return
    if output is None and format is OutputFormat.json:
        raise UsageError("without --output the scored rows go to stdout as CSV, so there is no room for a "
                         "JSON summary", hint="add --output FILE to get a JSON summary")
    result = workflows.predict_file(st.registry, st.settings, str(input),
                                    output=str(output) if output else None, version=model)
    if output is None:
        return
    if format is OutputFormat.json:
        emit_json(result.to_dict())
    else:
        console().print(key_values(f"Scored {result.n_rows} rows with model {result.model_version}", [
            ("output", result.output), ("predicted churners", result.n_churn),
            ("mean probability", result.mean_probability),
            ("risk levels", ", ".join(f"{k} {v}" for k, v in result.risk_levels.items()))]))
