"""drift-check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from churnctl.cli.app import state
from churnctl.cli.data import FormatOption
from churnctl.cli.modelling import ModelOption
from churnctl.cli.render import OutputFormat, console, emit_json, fmt, styled, table
from churnctl.errors import EXIT_DRIFT

SHORT = {"wasserstein_sd": "W1/sd", "jensen_shannon": "JS"}


def drift_check_command(
    current: Annotated[Path, typer.Option("--current", help="CSV/Parquet batch to check (target column optional).")],
    model: ModelOption = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="Significance level after correction [default: 0.05].")] = None,
    correction: Annotated[Optional[str], typer.Option(
        "--correction", help="Multiple-testing correction: bh (Benjamini-Hochberg) or bonferroni [default: bh].")] = None,
    min_rows: Annotated[Optional[int], typer.Option(
        "--min-rows", help="Fewer rows than this give status insufficient_data [default: 100].")] = None,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Check a batch for data, prediction and performance drift; exit 1 when drift is detected."""
    from churnctl import workflows

    st = state()
    report = workflows.drift_check(st.registry, st.settings, str(current), version=model, alpha=alpha,
                                   correction=correction, min_rows=min_rows)
    if format is OutputFormat.json:
        emit_json(report.to_dict())
    else:
        _render(report)
    if report.drift_detected:
        raise typer.Exit(EXIT_DRIFT)


def _render(report) -> None:
    out = console()
    ordered = sorted(report.features.items(),
                     key=lambda kv: (not kv[1].drift, -(kv[1].effect_size / kv[1].effect_threshold)))
    rows = []
    for name, f in ordered:
        notes = []
        if f.missing_rate_current or f.missing_rate_reference:
            notes.append(f"missing {f.missing_rate_reference:.1%} -> {f.missing_rate_current:.1%}")
        if f.unseen_categories:
            notes.append("unseen: " + ", ".join(u["value"] for u in f.unseen_categories[:3]))
        rows.append([name, f.kind, f.test, f.statistic, f.p_value, f.p_value_adjusted,
                     f"{fmt(f.effect_size)} {SHORT[f.effect_metric]}", f.psi,
                     "DRIFT" if f.drift else "", "; ".join(notes)])
    out.print(table(f"Feature drift: {report.n_current} current rows vs {report.n_reference} reference rows "
                    f"(model {report.model_version}, {report.correction}, alpha {report.alpha})",
                    ["feature", "kind", "test", "statistic", "p-value", "adjusted", "effect size", "PSI", "drift",
                     "notes"], rows))
    p = report.prediction_drift
    lines = [f"prediction drift: KS {fmt(p['statistic'])}, adjusted p {fmt(p['p_value_adjusted'])}, "
             f"effect {fmt(p['effect_size'])} SD, mean probability {fmt(p['mean_probability_reference'])} -> "
             f"{fmt(p['mean_probability_current'])}" + (" DRIFT" if p["drift"] else "")]
    if report.performance:
        q = report.performance
        lines.append(f"performance: ROC-AUC {fmt(q['roc_auc'])} vs {fmt(q['roc_auc_reference'])} at training, "
                     f"churn rate {fmt(q['churn_rate'])} vs {fmt(q['churn_rate_reference'])}"
                     + (" DRIFT" if q["drift"] else ""))
    for line in lines:
        out.print(line)
    if report.status == "insufficient_data":
        verdict = styled(("insufficient data", "bold"), f": {report.n_current} rows, no verdict")
    elif report.drift_detected:
        verdict = styled(("DRIFT DETECTED", "bold red"), ": " + "; ".join(report.reasons))
    else:
        verdict = styled(("no drift", "bold green"))
    out.print(verdict)


def retrain_command(
    data: Annotated[Path, typer.Option("--data", help="Newly labelled CSV/Parquet file, or a directory of them.")],
    force: Annotated[bool, typer.Option("--force", help="Train a challenger even when no drift is detected.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the registry lock (default: fail at once).")] = 0.0,
    format: FormatOption = OutputFormat.text,
) -> None:
    """Retrain on newly labelled data; promote the challenger only if it beats the champion."""
    from churnctl.retrain import retrain

    st = state()
    result = retrain(st.registry, st.settings, str(data), force=force, wait=wait)
    if format is OutputFormat.json:
        emit_json(result.to_dict())
        return
    out = console()
    out.print(styled((result.outcome, "bold"), f": {result.reason}"))
    if result.metrics:
        m = result.metrics
        out.print(table(f"Champion {result.champion} vs challenger {result.challenger} on {m['holdout_rows']} "
                        "held-out new rows", ["model", "ROC-AUC", "PR-AUC", "F1", "Brier"],
                        [[f"champion {result.champion}", m["champion"]["roc_auc"], m["champion"]["pr_auc"],
                          m["champion"]["f1"], m["champion"]["brier"]],
                         [f"challenger {result.challenger}", m["challenger"]["roc_auc"], m["challenger"]["pr_auc"],
                          m["challenger"]["f1"], m["challenger"]["brier"]]]))
    out.print(f"current model: {result.current}" + (f"; pruned {', '.join(result.pruned)}" if result.pruned else ""))
