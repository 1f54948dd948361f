"""The report of ``churnctl drift-check --report FILE.html``: the verdict and the rule that gave it,
the performance estimated without labels with its band, one panel per feature (largest effect
first: reference and current distributions with the test's figures, missing rates and unseen
categories), the churn-probability distribution, and realised performance when labels are present."""

from __future__ import annotations

from typing import Any

import numpy as np

from churnctl.reports.page import document, esc, figure, plot, svg, table_html

REF, CUR = "#8a94a3", "#2f6db5"
PANELS = 40  # features drawn; the rest are listed in the table


def _bars(dist: Any) -> str:
    if dist is None or not dist.labels:
        return ""
    n = len(dist.labels)
    fig, ax = figure(4.8, 2.6 if n <= 14 else 3.2)
    x = np.arange(n)
    ax.bar(x - 0.2, dist.reference, width=0.4, color=REF, label="reference")
    ax.bar(x + 0.2, dist.current, width=0.4, color=CUR, label="current")
    ax.set_xticks(x, [label.replace("$", r"\$")[:18] for label in dist.labels], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.legend(frameon=False, fontsize=8)
    return svg(fig)


def _estimate(e: Any) -> str:
    if e is None or e.roc_auc is None:
        return "<p>No estimate (too few scored rows or one class expected).</p>"
    fig, ax = figure(4.6, 1.6)
    ax.errorbar([e.roc_auc], [0], xerr=[[e.roc_auc - e.roc_auc_lower], [e.roc_auc_upper - e.roc_auc]], fmt="o",
                color=CUR, capsize=4, label="estimated now (95 % band)")  # fmt: skip
    ax.axvline(e.reference_roc_auc, color=REF, label="at training (held-out rows)")
    ax.axvline(e.reference_roc_auc - e.margin, color=REF, linestyle="--", label=f"drop margin ({e.margin})")
    ax.set(yticks=[], xlabel="ROC-AUC")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    rows = [
        ["ROC-AUC", f"{e.roc_auc:.4f} [{e.roc_auc_lower:.4f}, {e.roc_auc_upper:.4f}]", f"{e.reference_roc_auc:.4f}"],
        ["precision", _f(e.precision), ""],
        ["recall", _f(e.recall), ""],
        ["F1", _f(e.f1), ""],
    ]
    verdict = "drop detected" if e.drop_detected else "no drop detected"
    return (
        f"<p>Confidence-based performance estimation (CBPE) on {e.n_scored:,} scored rows: {verdict}.</p>"
        + table_html(["metric", "estimated now", "at training"], rows)
        + svg(fig)
    )


def _f(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"


def drift_report(report: Any) -> str:
    dists = report.distributions or {}
    status = {"drift": ("DRIFT DETECTED", "bad"), "no_drift": ("no drift", "good")}
    verdict, css = status.get(report.status, ("insufficient data: no verdict", ""))
    rule = "".join(f"<li>{esc(r)}</li>" for r in report.reasons) or "<li>no test crossed its threshold</li>"
    head = (
        f'<p class="verdict {css}">{esc(verdict)}</p><ul>{rule}</ul>'
        f"<p>{report.n_current:,} current rows against {report.n_reference:,} reference rows of model "
        f"{esc(report.model_version)}; {esc(report.correction)} correction, alpha {report.alpha}; "
        f"{report.share_drifted:.0%} of features drifted.</p>"
        + "".join(f"<p>warning: {esc(w)}</p>" for w in report.warnings)
    )
    ordered = sorted(report.features.items(), key=lambda kv: kv[1].rank)
    panels = []
    for name, f in ordered[:PANELS]:
        figures = [
            ["test", f"{f.test}: statistic {_f(f.statistic)}, adjusted p {_f(f.p_value_adjusted)}"],
            ["effect size", f"{f.effect_size:.4f} ({f.effect_metric}; threshold {f.effect_threshold})"],
            ["PSI", _f(f.psi)],
            ["missing", f"{f.missing_rate_reference:.1%} → {f.missing_rate_current:.1%}"],
        ]
        if f.unseen_categories:
            figures.append(["unseen", ", ".join(f"{u['value']} ({u['rows']})" for u in f.unseen_categories[:5])])
        caption = ("DRIFT: " + "; ".join(f.reasons)) if f.drift else "no drift"
        body = _bars(dists.get(name)) + table_html(["", ""], figures)
        panels.append(plot(f"{name} ({f.kind})", body, caption))
    rest = ordered[PANELS:]
    listed = (
        table_html(
            ["feature", "effect size", "adjusted p", "drift"],
            [[n, f"{f.effect_size:.4f}", _f(f.p_value_adjusted), "DRIFT" if f.drift else ""] for n, f in rest],
        )
        if rest
        else ""
    )
    p = report.prediction_drift
    prediction = plot(
        "Churn probability",
        _bars(dists.get("")),
        f"KS {_f(p.statistic)}, adjusted p {_f(p.p_value_adjusted)}, shift {p.effect_size:.3f} SD; mean "
        f"{p.mean_probability_reference:.4f} → {_f(p.mean_probability_current)}" + (" — DRIFT" if p.drift else ""),
    )
    sections = [
        ("Verdict", head),
        ("Performance estimated without labels", _estimate(report.estimated_performance)),
        ("Predictions", prediction),
        ("Features, largest effect first", f'<div class="grid">{"".join(panels)}</div>{listed}'),
    ]
    if report.performance is not None:
        q = report.performance
        rows = [
            ["ROC-AUC", _f(q.roc_auc), _f(q.roc_auc_reference)],
            ["PR-AUC", _f(q.pr_auc), _f(q.pr_auc_reference)],
            ["churn rate", _f(q.churn_rate), _f(q.churn_rate_reference)],
        ]
        note = f"<p>{q.n_labelled:,} labelled rows{' — DRIFT' if q.drift else ''}.</p>"
        sections.insert(2, ("Performance with labels", note + table_html(["metric", "now", "at training"], rows)))
    return document(f"Drift check: model {report.model_version}", f"{report.n_current:,} current rows", sections)
