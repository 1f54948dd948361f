"""churnctl retrain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from churnctl.cli.context import metrics_writer, state
from churnctl.cli.options import FormatOption, MetricsFileOption, ValueOption, WaitOption
from churnctl.cli.render import OutputFormat, emit, styled, table
from churnctl.reports.cells import money


def retrain_command(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option("--data", help="Newly labelled CSV/Parquet file, or a directory of them.")],
    force: Annotated[bool, typer.Option("--force", help="Train a challenger even when no drift is detected.")] = False,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
    metrics_file: MetricsFileOption = None,
    value: ValueOption = None,
) -> None:
    """Retrain on newly labelled data; promote the challenger only if it beats the champion.

    Example: churnctl retrain --data labelled/ --wait 3600 --format json
    """
    from churnctl.lifecycle.retrain import retrain

    st = state(ctx)
    write_metrics = metrics_writer(metrics_file)
    from churnctl.config import value_options

    result = retrain(st.registry, value_options(st.settings, value), str(data), force=force, wait=wait)
    write_metrics("retrain", result, lambda: result.current)

    def text(out: Console) -> None:
        out.print(styled((result.outcome, "bold"), f": {result.reason}"))
        if result.metrics:
            m = result.metrics
            profit = m.get("profit_per_customer")
            out.print(
                table(
                    f"Champion {result.champion} vs challenger {result.challenger} on {m['holdout_rows']} "
                    "held-out new rows",
                    ["model", "ROC-AUC", "PR-AUC", "F1", "Brier", *(["profit per customer"] if profit else [])],
                    [
                        [
                            f"{role} {version}",
                            m[role]["roc_auc"],
                            m[role]["pr_auc"],
                            m[role]["f1"],
                            m[role]["brier"],
                            *([money(profit[role])] if profit else []),
                        ]
                        for role, version in (("champion", result.champion), ("challenger", result.challenger))
                    ],
                )
            )
        out.print(
            f"current model: {result.current}" + (f"; pruned {', '.join(result.pruned)}" if result.pruned else "")
        )

    emit(result, format, text)
