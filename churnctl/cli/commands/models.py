"""churnctl models list / show / promote / rollback / history / verify / adopt."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from churnctl.cli.context import state
from churnctl.cli.options import FormatOption, WaitOption
from churnctl.cli.render import (
    OutputFormat,
    emit,
    fmt,
    importance_table,
    key_values,
    metrics_table,
    model_params,
    table,
    threshold_text,
    when,
)
from churnctl.errors import EXIT_ARTIFACT

app = typer.Typer(help="List, inspect, promote and roll back model versions.", no_args_is_help=True)


@app.command("list")
def list_command(ctx: typer.Context, format: FormatOption = OutputFormat.text) -> None:
    """List model versions, oldest first, and which one is current.

    Example: churnctl models list --format json
    """
    from churnctl.lifecycle.models import list_models

    models = list_models(state(ctx).registry)

    def text(out: Console) -> None:
        if not models:
            out.print("no model versions yet: run 'churnctl train'")
            return
        out.print(
            table(
                "Model versions",
                [
                    "version",
                    "created",
                    "dataset",
                    "estimator",
                    "CV ROC-AUC",
                    "test ROC-AUC",
                    "test rows",
                    "threshold",
                    "status",
                ],
                [
                    [
                        m.version,
                        when(m.created),
                        m.dataset_id,
                        m.estimator,
                        m.cv_roc_auc,
                        m.test_roc_auc,
                        m.test_rows,
                        m.threshold,
                        m.status,
                    ]
                    for m in models
                ],
                optional=("created", "test rows", "estimator", "threshold", "CV ROC-AUC"),
            )
        )
        if len({m.dataset_id for m in models}) > 1:
            out.print(
                "ROC-AUCs are measured on each version's own dataset (CV on its training split, test on its "
                "test split): across datasets they are not comparable; 'churnctl models compare A B' scores "
                "two versions on the same rows"
            )

    emit([m.to_dict() for m in models], format, text, key="models")


@app.command("show")
def show_command(
    ctx: typer.Context,
    version: Annotated[Optional[str], typer.Argument(help="Version to show (default: current).")] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Show a model version's manifest: data, parameters, scores, schema, checksums.

    Example: churnctl models show v0002
    """
    from churnctl.lifecycle.models import show_model

    manifest = show_model(state(ctx).registry, version)

    def text(out: Console) -> None:
        out.print(
            key_values(
                f"Model {manifest['version']}" + (" (current)" if manifest["current"] else ""),
                [
                    ("created", when(manifest["created"])),
                    ("dataset", manifest["dataset_id"]),
                    ("estimator", manifest["estimator"]),
                    ("params", model_params(manifest["params"])),
                    ("CV ROC-AUC", f"{manifest['cv_roc_auc']:.4f} ± {manifest['cv_roc_auc_std']:.4f}"),
                    (
                        "threshold",
                        threshold_text(
                            manifest["threshold"], manifest["threshold_strategy"], manifest.get("threshold_policy")
                        ),
                    ),
                    ("calibration", (manifest.get("calibration") or {}).get("method", "none")),
                    ("training rows", manifest["n_train"]),
                    ("seed", manifest["seed"]),
                    ("versions", ", ".join(f"{k} {v}" for k, v in manifest["versions"].items())),
                ],
            )
        )
        out.print(metrics_table(manifest["test_metrics"], "Held-out test split"))
        out.print(importance_table(manifest.get("feature_importance") or {}, manifest.get("feature_importance_std")))
        features = [c for c in manifest["schema"]["columns"] if c["role"] == "feature"]
        out.print(
            table(
                "Features",
                ["column", "kind", "missing"],
                [[c["name"], c["kind"], f"{c['missing_rate']:.1%}"] for c in features],
            )
        )
        out.print(table("Files", ["file", "sha256"], [[k, v] for k, v in manifest["files"].items()]))

    emit(manifest, format, text)


@app.command("promote")
def promote_command(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to make current.")],
    force: Annotated[bool, typer.Option("--force", help="Promote even a version that a retrain rejected.")] = False,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Make VERSION the current model (after checking its signature and files).

    Example: churnctl models promote v0003
    """
    from churnctl.lifecycle.models import promote

    st = state(ctx)
    result = promote(st.registry, version, wait=wait, force=force, settings=st.settings)

    def text(out: Console) -> None:
        if result.previous == result.current:
            out.print(f"{result.current} is already current")
        else:
            out.print(f"current model: {result.current} (was {result.previous})")

    emit(result, format, text)


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="The baseline version, e.g. the current one.")],
    b: Annotated[str, typer.Argument(help="The version tested against A.")],
    data: Annotated[
        Optional[Path],
        typer.Option(
            "--data", help="Labelled CSV/Parquet to score both on [default: the latest ingested dataset's test split]."
        ),
    ] = None,
    dataset: Annotated[
        Optional[str],
        typer.Option("--dataset", help="Score both on this dataset's test split (e.g. a retrain's holdout)."),
    ] = None,
    bootstrap: Annotated[
        Optional[int], typer.Option("--bootstrap", help="Paired bootstrap resamples; 0 skips the test [default: 1000].")
    ] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Score two versions on the same labelled rows and test whether B ranks churners better than A.

    Example: churnctl models compare v0001 v0002 --data labelled-march.csv
    """
    from churnctl.lifecycle.models import compare

    st = state(ctx)
    result = compare(
        st.registry, st.settings, a, b, data=str(data) if data else None, dataset=dataset, bootstrap=bootstrap
    )

    def text(out: Console) -> None:
        names = ["roc_auc", "pr_auc", "brier", "log_loss", "f1", "precision", "recall", "threshold"]
        first, second = result.metrics[result.a], result.metrics[result.b]
        out.print(
            table(
                f"{result.a} vs {result.b} on {result.n_rows} rows: {result.data}",
                ["metric", result.a, result.b],
                [[name, first.get(name), second.get(name)] for name in names],
            )
        )
        if result.roc_auc_difference is not None:
            tested = (
                f", one-sided paired bootstrap p = {fmt(result.p_value)} ({result.bootstrap} resamples)"
                if result.p_value is not None
                else ""
            )
            out.print(f"ROC-AUC {result.b} - {result.a}: {result.roc_auc_difference:+.4f}{tested}")

    emit(result, format, text)


@app.command("rollback")
def rollback_command(ctx: typer.Context, wait: WaitOption = 0.0, format: FormatOption = OutputFormat.text) -> None:
    """Make the previous current model current again.

    Example: churnctl models rollback
    """
    from churnctl.lifecycle.models import rollback

    st = state(ctx)
    result = rollback(st.registry, wait=wait, settings=st.settings)
    emit(
        result, format, lambda out: out.print(f"rolled back: current model is {result.current} (was {result.previous})")
    )


@app.command("history")
def history_command(ctx: typer.Context, format: FormatOption = OutputFormat.text) -> None:
    """Show trainings, promotions, rejections, rollbacks and prunings, oldest first.

    Example: churnctl models history --format json
    """
    from churnctl.lifecycle.models import history

    rows = history(state(ctx).registry)

    def text(out: Console) -> None:
        if not rows:
            out.print("no model history yet")
            return
        out.print(
            table(
                "Model history",
                ["time", "event", "version", "previous / champion", "outcome", "reason"],
                [
                    [
                        when(r["time"]),
                        r["event"],
                        r["version"],
                        r["previous"],
                        r["outcome"],
                        r["reason"],
                    ]
                    for r in rows
                ],
                optional=("outcome", "previous / champion"),
            )
        )

    emit(rows, format, text, key="history")


@app.command("verify")
def verify_command(ctx: typer.Context, format: FormatOption = OutputFormat.text) -> None:
    """Check every signature, file and the current pointer; exit 4 if any fail.

    Each manifest's signature and binding to this registry, each file's SHA-256 and mode, each
    manifest against what the event log recorded, and the current pointer against the log.

    Example: churnctl models verify
    """
    from churnctl.lifecycle.models import verify

    problems = verify(state(ctx).registry)
    bad = {k: v for k, v in problems.items() if v}
    emit(
        {"ok": not bad, "checked": sorted(problems), "problems": bad},
        format,
        lambda out: out.print(
            table(
                "Verification",
                ["artifact", "status"],
                [[name, problem or "ok"] for name, problem in sorted(problems.items())],
            )
        ),
    )
    if bad:
        raise typer.Exit(EXIT_ARTIFACT)


@app.command("adopt")
def adopt_command(
    ctx: typer.Context,
    names: Annotated[
        Optional[list[str]], typer.Argument(help="Versions or datasets to sign (default: every unsigned one).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Sign them: you vouch that nobody else could write them.")] = False,
    accept_changes: Annotated[
        Optional[list[str]],
        typer.Option(
            "--accept-changes",
            metavar="NAME",
            help="Sign NAME although its manifest differs from what the event log recorded (repeatable).",
        ),
    ] = None,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Sign manifests your key did not sign for this registry, after checking their files.

    For an artifacts directory written before signing existed, or after a key change. Every file's
    SHA-256 is checked first, and every field that differs from what the event log recorded is shown
    (sign such a manifest with --accept-changes NAME). Needs --yes; in a directory your key already
    signs, only the versions you name.

    Example: churnctl models adopt --yes
    """
    from churnctl.lifecycle.models import adopt

    result = adopt(state(ctx).registry, names, confirm=yes, accept_changes=accept_changes, wait=wait)

    def text(out: Console) -> None:
        if result.adopted:
            out.print(f"signed {len(result.adopted)} manifest(s): {', '.join(result.adopted)}")
            for name, fields in result.changes.items():
                changed = "; ".join(f"{f} {logged!r} -> {stored!r}" for f, (logged, stored) in fields.items())
                out.print(f"  {name}: signed with changes to what the event log recorded: {changed}")
        else:
            out.print("every manifest is already signed with this key")

    emit(result, format, text)


@app.command("sync")
def sync_command(ctx: typer.Context, format: FormatOption = OutputFormat.text) -> None:
    """Mirror to MLflow what it lacks (runs, registered versions) and move the champion alias; twice is
    once.

    Example: churnctl models sync
    """
    from churnctl.lifecycle.mirror import mirror

    st = state(ctx)
    result = mirror(st.registry, st.settings, strict=True)
    assert result is not None  # strict: no tracking URI is a usage error

    def text(out: Console) -> None:
        logged = ", ".join(result.logged) or "nothing new"
        out.print(f"MLflow at {result.tracking_uri}: logged {logged}; {len(result.already)} version(s) already there")
        out.print(f"alias champion -> {result.champion or '(no current model)'} of {result.registered_model!r}")

    emit(result, format, text)


class ExportFormat(StrEnum):
    mlflow = "mlflow"


@app.command("export")
def export_command(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to export, e.g. v0003.")],
    folder: Annotated[Path, typer.Argument(help="Folder to create (it must not exist).")],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="mlflow: an MLflow model directory (needs the mlflow extra).")
    ] = ExportFormat.mlflow,
) -> None:
    """Write a version as an MLflow model directory, for 'mlflow models serve' or an image built from it.

    Example: churnctl models export v0003 --format mlflow exported/v0003
    """
    from churnctl.lifecycle.mirror import export_model

    st = state(ctx)
    result = export_model(st.registry, st.settings, version, folder)
    typer.echo(f"{result['version']} written as an MLflow model to {result['path']}")
