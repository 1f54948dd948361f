"""models list / show / promote / rollback."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from churnctl.cli.app import state
from churnctl.cli.data import FormatOption, WaitOption
from churnctl.cli.render import OutputFormat, console, emit_json, key_values, metrics_table, table

app = typer.Typer(help="List, inspect, promote and roll back model versions.", no_args_is_help=True)


@app.command("list")
def list_command(format: FormatOption = OutputFormat.text) -> None:
    """List model versions, oldest first, and which one is current."""
    from churnctl import workflows

    models = workflows.list_models(state().registry)
    if format is OutputFormat.json:
        emit_json([m.to_dict() for m in models])
        return
    if not models:
        console().print("no model versions yet: run 'churnctl train'")
        return
    console().print(table("Model versions", ["version", "created", "dataset", "estimator", "CV ROC-AUC",
                                             "test ROC-AUC", "threshold", "status"],
                          [[m.version, m.created, m.dataset_id, m.estimator, m.cv_roc_auc, m.test_roc_auc,
                            m.threshold, m.status] for m in models]))


@app.command("show")
def show_command(
    version: Annotated[Optional[str], typer.Argument(help="Version to show (default: current).")] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Show a model version's manifest: data, parameters, scores, schema, checksums."""
    from churnctl import workflows

    manifest = workflows.show_model(state().registry, version)
    if format is OutputFormat.json:
        emit_json(manifest)
        return
    out = console()
    out.print(key_values(f"Model {manifest['version']}" + (" (current)" if manifest["current"] else ""), [
        ("created", manifest["created"]), ("dataset", manifest["dataset_id"]),
        ("estimator", manifest["estimator"]),
        ("params", ", ".join(f"{k}={v}" for k, v in manifest["params"].items())),
        ("CV ROC-AUC", f"{manifest['cv_roc_auc']:.4f} ± {manifest['cv_roc_auc_std']:.4f}"),
        ("threshold", f"{manifest['threshold']:.4f} ({manifest['threshold_strategy']})"),
        ("training rows", manifest["n_train"]), ("seed", manifest["seed"]),
        ("versions", ", ".join(f"{k} {v}" for k, v in manifest["versions"].items())),
    ]))
    out.print(metrics_table(manifest["test_metrics"], "Held-out test split"))
    features = [c for c in manifest["schema"]["columns"] if c["role"] == "feature"]
    out.print(table("Features", ["column", "kind", "missing"],
                    [[c["name"], c["kind"], f"{c['missing_rate']:.1%}"] for c in features]))
    out.print(table("Files", ["file", "sha256"], [[k, v] for k, v in manifest["files"].items()]))


@app.command("promote")
def promote_command(
    version: Annotated[str, typer.Argument(help="Version to make current.")],
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Make VERSION the current model (after checking its files)."""
    from churnctl import workflows

    result = workflows.promote(state().registry, version, wait=wait)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
    elif result.previous == result.current:
        console().print(f"{result.current} is already current")
    else:
        console().print(f"current model: {result.current} (was {result.previous})")


@app.command("rollback")
def rollback_command(wait: WaitOption = 0.0, format: FormatOption = OutputFormat.text) -> None:
    """Make the previous current model current again."""
    from churnctl import workflows

    result = workflows.rollback(state().registry, wait=wait)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
    else:
        console().print(f"rolled back: current model is {result.current} (was {result.previous})")


@app.command("history")
def history_command(format: FormatOption = OutputFormat.text) -> None:
    """Show trainings, promotions, rejections, rollbacks and prunings, oldest first."""
    from churnctl import workflows

    rows = workflows.history(state().registry)
    if format is OutputFormat.json:
        emit_json(rows)
        return
    if not rows:
        console().print("no model history yet")
        return
    console().print(table("Model history", ["time", "event", "version", "previous / champion", "outcome", "reason"],
                          [[(r["time"] or "")[:19].replace("T", " "), r["event"], r["version"], r["previous"], r["outcome"], r["reason"]]
                           for r in rows]))


@app.command("verify")
def verify_command(format: FormatOption = OutputFormat.text) -> None:
    """Check every version's files against the SHA-256 in its manifest; exit 4 if any differ."""
    from churnctl import workflows
    from churnctl.errors import EXIT_ARTIFACT

    problems = workflows.verify(state().registry)
    bad = {k: v for k, v in problems.items() if v}
    if format is OutputFormat.json:
        emit_json({"ok": not bad, "checked": sorted(problems), "problems": bad})
    else:
        console().print(table("Verification", ["artifact", "status"],
                              [[name, problem or "ok"] for name, problem in sorted(problems.items())]))
    if bad:
        raise typer.Exit(EXIT_ARTIFACT)


@app.command("adopt")
def adopt_command(
    yes: Annotated[bool, typer.Option("--yes", help="Sign them: you vouch that nobody else could write them.")] = False,
    wait: WaitOption = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Sign, with your key, the manifests it did not sign: an artifacts directory written before
    signing existed, or after a key change. Every file's SHA-256 is checked first. Needs --yes."""
    from churnctl import workflows

    result = workflows.adopt(state().registry, confirm=yes, wait=wait)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
    elif result.adopted:
        console().print(f"signed {len(result.adopted)} manifest(s): {', '.join(result.adopted)}")
    else:
        console().print("every manifest is already signed with this key")
