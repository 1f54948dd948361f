"""The report of ``churnctl drift-check --report FILE.html``: the verdict and the rule that gave it,
the performance estimated without labels with its band, one panel per feature (largest effect
first: reference and current distributions with the test's figures, missing rates and unseen
categories), the churn-probability distribution, and realised performance when labels are present."""

from __future__ import annotations

from typing import Any

import numpy as np

from churnctl.reports.page import document, esc, figure, legend_above, number_axis, plot, svg, table_html

REF, CUR = "#8a94a3", "#2f6db5"
PANELS = 40  # features drawn; the rest are listed in the table


TESTS = {"ks": "Kolmogorov–Smirnov", "chi2": "chi-square"}
EFFECTS = {
    "wasserstein_sd": "shift in reference standard deviations (Wasserstein-1)",
    "jensen_shannon": "Jensen–Shannon distance",
}


CORRECTIONS = {"bh": "Benjamini–Hochberg", "bonferroni": "Bonferroni"}


def _picture(dist: Any, name: str) -> str:
    """The distribution of one feature (or of the churn probabilities, ``name`` "")."""
    if dist is None or not dist.labels:
        return ""
    if dist.kind == "numeric" and dist.points and dist.current_cdf:
        return _ecdf(dist, name)
    if dist.kind == "categorical":
        return _categories(dist)
    return _values(dist, name)


def _ecdf(dist: Any, name: str) -> str:
    """Both cumulative distributions on the feature's own axis; the largest gap is the KS statistic."""
    fig, ax = figure(4.8, 2.9)
    ax.step(dist.points, dist.reference_cdf, where="post", color=REF, linewidth=1.6, label="reference (training)")
    ax.step(dist.points, dist.current_cdf, where="post", color=CUR, linewidth=1.6, label="current")
    gaps = np.abs(np.asarray(dist.reference_cdf) - np.asarray(dist.current_cdf))
    at = int(np.argmax(gaps))
    lo, hi = sorted((dist.reference_cdf[at], dist.current_cdf[at]))
    ax.vlines(dist.points[at], lo, hi, color="#b42318", linewidth=1.2, label=f"largest gap {gaps[at]:.3f}")
    ax.set(ylim=(-0.02, 1.02), xlabel=name or "churn probability", ylabel="share of rows at or below")
    number_axis(ax.xaxis)
    legend_above(ax)
    return svg(fig)


def _values(dist: Any, name: str) -> str:
    """One pair of bars per whole value (a few of them)."""
    fig, ax = figure(4.8, 2.6)
    x = np.arange(len(dist.labels))
    ax.bar(x - 0.2, dist.reference, width=0.4, color=REF, label="reference (training)")
    ax.bar(x + 0.2, dist.current, width=0.4, color=CUR, label="current")
    ax.set_xticks(x, dist.labels)
    ax.set(xlabel=name, ylabel="share of rows")
    legend_above(ax)
    return svg(fig)


def _categories(dist: Any) -> str:
    """Horizontal bars, a category per line, most frequent at the top: names read without turning."""
    n = len(dist.labels)
    fig, ax = figure(4.8, 0.9 + 0.32 * n)
    y = np.arange(n)[::-1]
    ax.barh(y + 0.2, dist.reference, height=0.4, color=REF, label="reference (training)")
    ax.barh(y - 0.2, dist.current, height=0.4, color=CUR, label="current")
    ax.set_yticks(y, [label.replace("$", r"\$")[:28] for label in dist.labels])
    ax.set_xlabel("share of rows")
    legend_above(ax)
    return svg(fig)


def _range_note(dist: Any) -> str:
    if dist is None or dist.kind != "numeric" or not (dist.below or dist.above):
        return ""
    return f"; current rows outside the training range: {dist.below:.1%} below, {dist.above:.1%} above"


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


def _panel(name: str, f: Any, distribution: dict | None) -> str:
    """One feature: its distribution then and now, its test, effect size, PSI and missing values."""
    figures = [
        ["test", f"{TESTS.get(f.test, f.test)}: statistic {_f(f.statistic)}, adjusted p {_f(f.p_value_adjusted)}"],
        [
            "effect size",
            f"{f.effect_size:.4f}, {EFFECTS.get(f.effect_metric, f.effect_metric)} (drift from {f.effect_threshold})",
        ],
        ["population stability index", _f(f.psi)],
        ["missing values", f"{f.missing_rate_reference:.1%} in training → {f.missing_rate_current:.1%} now"],
    ]
    if f.unseen_categories:
        figures.append(["unseen", ", ".join(f"{u['value']} ({u['rows']})" for u in f.unseen_categories[:5])])
    caption = (("DRIFT: " + "; ".join(f.reasons)) if f.drift else "no drift") + _range_note(distribution)
    body = _picture(distribution, name) + table_html(["", ""], figures, text=True)
    return plot(f"{name} ({f.kind})", body, caption)


def drift_report(report: Any) -> str:
    dists = report.distributions or {}
    status = {"drift": ("DRIFT DETECTED", "bad"), "no_drift": ("no drift", "good")}
    verdict, css = status.get(report.status, ("insufficient data: no verdict", ""))
    rule = "".join(f"<li>{esc(r)}</li>" for r in report.reasons) or "<li>no test crossed its threshold</li>"
    head = (
        f'<p class="verdict {css}">{esc(verdict)}</p><ul>{rule}</ul>'
        f"<p>{report.n_current:,} current rows against {report.n_reference:,} reference rows of model "
        f"{esc(report.model_version)}; {esc(CORRECTIONS.get(report.correction, report.correction))} correction"
        f" across the tests, alpha {report.alpha}; "
        f"{report.share_drifted:.0%} of features drifted.</p>"
        + "".join(f"<p>warning: {esc(w)}</p>" for w in report.warnings)
    )
    ordered = sorted(report.features.items(), key=lambda kv: kv[1].rank)
    panels = [_panel(name, f, dists.get(name)) for name, f in ordered[:PANELS]]
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
        _picture(dists.get(""), ""),
        f"Kolmogorov–Smirnov {_f(p.statistic)}, adjusted p {_f(p.p_value_adjusted)}, shift {p.effect_size:.3f} "
        f"reference standard deviations; mean {p.mean_probability_reference:.4f} at training → "
        f"{_f(p.mean_probability_current)} now" + (" — DRIFT" if p.drift else ""),
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
            ["average precision", _f(q.pr_auc), _f(q.pr_auc_reference)],
            ["churn rate", _f(q.churn_rate), _f(q.churn_rate_reference)],
        ]
        note = f"<p>{q.n_labelled:,} labelled rows{' — DRIFT' if q.drift else ''}.</p>"
        sections.insert(2, ("Performance with labels", note + table_html(["metric", "now", "at training"], rows)))
    return document(f"Drift check: model {report.model_version}", f"{report.n_current:,} current rows", sections)
