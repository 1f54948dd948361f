"""churnctl datasets list / show."""

from __future__ import annotations

import re
from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import FormatOption
from churnctl.cli.render import OutputFormat, emit, key_values, table, when

app = typer.Typer(help="List and inspect the stored datasets.", no_args_is_help=True)


@app.command("list")
def list_command(ctx: typer.Context, format: FormatOption = OutputFormat.text) -> None:
    """List datasets, oldest first; the latest is what 'train' uses without --dataset.

    Example: churnctl datasets list --format json
    """
    from churnctl.lifecycle.datasets import list_datasets

    datasets = list_datasets(state(ctx).registry)

    def text(out: Console) -> None:
        if not datasets:
            out.print("no datasets yet: run 'churnctl ingest FILE'")
            return
        out.print(
            table(
                "Datasets (the latest is what 'train' uses without --dataset)",
                ["dataset", "created", "source", "rows", "train / test", "churn rate", "models", "latest"],
                [
                    [
                        d.dataset_id,
                        when(d.created),
                        _short_source(d.source),
                        d.n_rows,
                        f"{d.n_train} / {d.n_test}",
                        f"{d.churn_rate:.2%}",
                        ", ".join(d.models),
                        "yes" if d.latest else "",
                    ]
                    for d in datasets
                ],
                optional=("created", "churn rate", "train / test", "models"),
            )
        )

    emit([d.to_dict() for d in datasets], format, text, key="datasets")


@app.command("show")
def show_command(
    ctx: typer.Context,
    dataset: Annotated[Optional[str], typer.Argument(help="Dataset id (default: the latest).")] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Show a dataset's manifest and schema: source, rows, split, churn rate, columns.

    Example: churnctl datasets show ds-3f2a9c0b1d4e
    """
    from churnctl.data.datasets import describe_source
    from churnctl.lifecycle.datasets import show_dataset

    shown = show_dataset(state(ctx).registry, dataset)

    def text(out: Console) -> None:
        out.print(
            key_values(
                f"Dataset {shown['dataset_id']}" + (" (latest)" if shown["latest"] else ""),
                [
                    ("created", when(shown["created"])),
                    ("source", describe_source(shown)),
                    ("target", f"{shown['target']} (churn = {shown['positive_label']!r})"),
                    ("rows", shown["n_rows"]),
                    ("train / test", f"{shown['n_train']} / {shown['n_test']}"),
                    ("churn rate", f"{shown['churn_rate']:.2%}"),
                ],
            )
        )
        out.print(
            table(
                "Columns",
                ["column", "role", "kind", "missing"],
                [
                    [c["name"], c["role"], c.get("kind"), f"{c.get('missing_rate') or 0:.1%}"]
                    for c in shown["schema"]["columns"]
                ],
            )
        )

    emit(shown, format, text)


def _short_source(source: str) -> str:
    """A dataset's source for a table: file names, not whole paths (``datasets show`` has them)."""
    return re.sub(r"(?<![\w.-])/\S*/([^/\s]+)", r"\1", source)
