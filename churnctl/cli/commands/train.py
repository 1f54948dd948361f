"""churnctl train."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import FormatOption, ValueOption, WaitOption
from churnctl.cli.progress import progress_bars
from churnctl.cli.render import (
    OutputFormat,
    emit,
    importance_table,
    key_values,
    metrics_table,
    model_params,
    styled,
    table,
    threshold_text,
)
from churnctl.errors import UsageError


class ModelFamily(StrEnum):  # churnctl.model.estimators.MODEL_CHOICES (tested)
    auto = "auto"
    logreg = "logreg"
    hgb = "hgb"
    blend = "blend"


if TYPE_CHECKING:
    from churnctl.lifecycle.train import TrainResult


def train_command(
    ctx: typer.Context,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset id (default: latest).")] = None,
    model: Annotated[
        Optional[ModelFamily],
        typer.Option(
            "--model",
            help="auto (pick by cross-validated ROC-AUC), logreg, hgb or blend (the best of each, averaged) "
            "[default: auto].",
        ),
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option("--seed", help="Seed of CV folds and estimators [default: 42].")
    ] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Make the new version current.")] = False,
    time_budget: Annotated[
        Optional[float],
        typer.Option("--time-budget", metavar="SECONDS", help="Bound on the whole training [default: 600]."),
    ] = None,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
    value: ValueOption = None,
) -> None:
    """Train a model version on a dataset; the first version becomes current.

    Example: churnctl train --model hgb --seed 3 --promote
    """
    from churnctl.config import value_options
    from churnctl.lifecycle.train import train

    st = state(ctx)
    settings = value_options(st.settings, value)
    if time_budget is not None:
        if not time_budget > 0:
            raise UsageError(f"--time-budget must be a positive number of seconds, found {time_budget:g}")
        settings = replace(settings, train=replace(settings.train, time_budget=time_budget))
    with progress_bars(ctx) as progress:
        result = train(
            st.registry,
            settings,
            dataset_id=dataset,
            model=model.value if model else None,
            seed=seed,
            promote=promote,
            wait=wait,
            progress=progress,
        )

    emit(result, format, partial(render_text, result))


def render_text(result: TrainResult, out: Console) -> None:
    """The text view of a training: the version, the candidates, the choice and the test metrics."""
    status = "now current" if result.promoted else f"not promoted; current is {result.current}"
    out.print(
        styled(
            "trained model ",
            (result.version, "bold"),
            f" on dataset {result.dataset_id} in {result.seconds:.1f}s ({status})",
        )
    )
    chosen = "the latest dataset, " if result.dataset_latest else ""
    out.print(f"dataset {result.dataset_id}: {chosen}{result.dataset_source}")
    out.print(f"split {result.split.get('kind', 'stratified random')}; cross-validation folds {result.cv_kind}")
    out.print(
        table(
            "Cross-validated candidates (training split)",
            ["estimator", "params", "CV ROC-AUC", "±", "seconds"],
            [
                [
                    c["estimator"],
                    model_params(c["params"]),
                    c["cv_roc_auc_mean"],
                    c["cv_roc_auc_std"],
                    c["seconds"],
                ]
                for c in result.candidates
            ],
        )
    )
    out.print(
        key_values(
            None,
            [
                ("chosen", result.estimator),
                ("CV ROC-AUC", result.cv_roc_auc),
                ("threshold", threshold_text(result.threshold, result.threshold_strategy, result.threshold_policy)),
                ("calibration", result.calibration),
            ],
        )
    )
    out.print(metrics_table(result.test_metrics, "Held-out test split"))
    out.print(importance_table(result.feature_importance, result.feature_importance_std))
