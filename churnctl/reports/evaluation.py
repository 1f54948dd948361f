"""The report of ``churnctl evaluate --report FILE.html``: headline metrics, ROC and precision-recall
curves, calibration, confusion matrix, cumulative gains and lift, score distributions by class, and
the version's feature importance."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import PercentFormatter

from churnctl.model.metrics import METRICS, no_skill
from churnctl.reports.cells import DECILE_COLUMNS, decile_cells, money
from churnctl.reports.page import document, esc, figure, legend_above, number_axis, plot, svg, table_html

BLUE, RED, GREY = "#2f6db5", "#c4422b", "#8a94a3"
HEADLINE = ("roc_auc", "pr_auc", "top_decile_lift", "precision", "recall", "f1", "accuracy", "brier", "ece", "log_loss")


def evaluation_report(result: Any) -> str:
    """The page of an :class:`~churnctl.lifecycle.evaluate.EvaluateResult` (its labels and probabilities
    included)."""
    version, data, metrics, importance = result.model_version, result.data, result.metrics, result.feature_importance
    y, proba = np.asarray(result.labels).astype(int), np.asarray(result.probabilities, dtype=float)
    threshold = float(metrics["threshold"])
    both = 0 < y.sum() < len(y)
    plots = _ranking_plots(y, proba, metrics) if both else []
    bins = metrics.get("reliability") or []
    if bins:
        plots.append(_calibration_plot(bins, metrics))
    plots.append(_confusion_plot(metrics, threshold))
    if both:
        plots.append(_gains_plot(y, proba, metrics))
    plots.append(_scores_plot(y, proba, threshold))
    sections = [
        ("Headline", _headline(metrics, threshold)),
        ("Plots", f'<div class="grid">{"".join(plots)}</div>'),
        ("Lift by decile", _deciles(getattr(result, "deciles", None) or [])),
        ("Feature importance", _importance(importance)),
    ]
    value = getattr(result, "value", None)
    if value:
        sections.insert(1, ("Campaign profit", _campaign(value)))
    subtitle = f"model {version} on {data}: {len(y):,} labelled rows, churn rate {y.mean():.1%}"
    split = getattr(result, "split", None)
    if split:
        subtitle += f"; split {split.get('kind', 'stratified random')}"
        if split.get("kind") == "out of time":
            subtitle += f" (test {split.get('test_from')} to {split.get('test_to')})"
    return document(f"Model {version}: evaluation", subtitle, sections)


def _ranking_plots(y: np.ndarray, proba: np.ndarray, metrics: dict) -> list[str]:
    """The ROC and precision-recall curves."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y, proba)
    fig, ax = figure()
    ax.plot(fpr, tpr, color=BLUE, label=f"model (AUC {metrics['roc_auc']:.3f})")
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate")
    legend_above(ax)
    plots = [plot("ROC curve", svg(fig))]
    precision, recall, _ = precision_recall_curve(y, proba)
    fig, ax = figure()
    ax.plot(recall, precision, color=BLUE, label=f"model (AP {metrics['pr_auc']:.3f})")
    ax.axhline(y.mean(), color=GREY, linestyle="--", label=f"churn rate {y.mean():.1%}")
    ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02))
    legend_above(ax)
    plots.append(plot("Precision and recall", svg(fig)))
    return plots


def _calibration_plot(bins: list[dict], metrics: dict) -> str:
    fig, ax = figure()
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", label="perfectly calibrated")
    ax.plot([b["mean_predicted"] for b in bins], [b["observed_rate"] for b in bins], "o-", color=BLUE, label="model")
    ax.set(xlabel="mean predicted probability", ylabel="observed churn rate", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    legend_above(ax)
    return plot("Calibration", svg(fig), f"expected calibration error {metrics['ece']:.4f} (10 bins)")


def _confusion_plot(metrics: dict, threshold: float) -> str:
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    fig, ax = figure(3.6, 3.2)
    cells = np.array([[tn, fp], [fn, tp]])
    ax.imshow(cells, cmap="Blues")
    for (i, j), count in np.ndenumerate(cells):
        ax.text(j, i, f"{count:,}", ha="center", va="center", color="black" if count < cells.max() / 2 else "white")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["stays", "churns"], yticklabels=["stayed", "churned"])
    ax.set(xlabel="predicted", ylabel="actual")
    return plot("Confusion matrix", svg(fig), f"at the model's threshold {threshold:.4f}")


def _gains_plot(y: np.ndarray, proba: np.ndarray, metrics: dict) -> str:
    order = np.argsort(-proba, kind="stable")
    share = np.arange(1, len(y) + 1) / len(y)
    gains = np.cumsum(y[order]) / y.sum()
    fig, ax = figure()
    ax.plot(share, gains, color=BLUE, label="model")
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", label="random")
    ax.set(xlabel="share of customers contacted (highest scores first)", ylabel="share of churners found")
    ax2 = ax.twinx()
    ax2.spines["right"].set_visible(True)
    ax2.plot(share, gains / share, color=RED, alpha=0.6, label="lift (right axis)")
    ax2.set_ylabel("lift", color=RED)
    legend_above(ax, ax.get_lines() + ax2.get_lines(), columns=3)
    caption = f"top decile: lift {metrics['top_decile_lift']:.2f}, {metrics['top_decile_capture']:.1%} of churners"
    return plot("Cumulative gains and lift", svg(fig), caption)


def _scores_plot(y: np.ndarray, proba: np.ndarray, threshold: float) -> str:
    fig, ax = figure()
    edges = np.linspace(0, 1, 41)
    for label, color, name in ((0, BLUE, "stayed"), (1, RED, "churned")):
        if (y == label).any():
            ax.hist(proba[y == label], bins=edges, density=True, alpha=0.55, color=color, label=name)
    ax.axvline(threshold, color="black", linewidth=1, label="threshold")
    ax.set(xlabel="churn probability", ylabel="density")
    legend_above(ax, columns=3)
    return plot("Scores by class", svg(fig))


def _headline(metrics: dict, threshold: float) -> str:
    """The metrics by name, each with its value, what a score without information reaches on the same
    rows, and what it says; a sentence on the decision at the threshold."""
    by_key = {m.key: m for m in METRICS}
    rate = float(metrics["churn_rate"])
    rows = []
    for key in HEADLINE:
        metric, reference = by_key[key], no_skill(key, rate)
        better = "higher" if metric.higher_is_better else "lower"
        rows.append(
            [
                metric.label,
                metric.text(metrics.get(key)),
                "" if reference is None else metric.text(reference),
                f"{metric.meaning}; {better} is better",
            ]
        )
    (_, fp), (fn, tp) = metrics["confusion_matrix"]
    flagged, churners = tp + fp, tp + fn
    n = max(int(metrics["n_rows"]), 1)
    decision = (
        f"At the threshold {threshold:.4f} the model flags {flagged:,} of {n:,} customers ({flagged / n:.1%});"
        f" {tp:,} of them churned ({tp / max(flagged, 1):.1%}), which is {tp / max(churners, 1):.1%} of the"
        f" {churners:,} churners."
    )
    header = ["metric", "value", "no skill", "what it says"]
    return f"<p>{esc(decision)}</p>" + table_html(header, rows).replace("<table>", '<table class="metrics">', 1)


def _importance(importance: dict[str, float]) -> str:
    if not importance:
        return "<p>Not measured for this version (its training ran out of time budget).</p>"
    ranked = sorted(importance.items(), key=lambda kv: kv[1])[-20:]
    fig, ax = figure(6.4, 0.3 * len(ranked) + 0.8)
    ax.barh([name.replace("$", r"\$") for name, _ in ranked], [share for _, share in ranked], color=BLUE)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of the ROC-AUC lost when the feature is shuffled")
    caption = "permutation importance on the held-out test rows at training"
    return plot("Permutation importance", svg(fig), caption)


def _deciles(rows: list[dict]) -> str:
    header, body = DECILE_COLUMNS, decile_cells(rows)
    note = "<p>Customers in tenths by churn probability, highest first; lift is a tenth's churn rate over all.</p>"
    return note + table_html(header, body)


def _campaign(value: dict) -> str:
    """The campaign's profit at the model's threshold and at the best one, the references, and the
    profit curve over the share contacted."""
    from churnctl.value.campaign import Campaign

    n = max(int(value["n_rows"]), 1)
    at, best, emp = value["at_threshold"], value["best"], value.get("emp")
    rows = [
        [
            "at the model's threshold",
            f"{at['threshold']:.4f}",
            f"{at['contacted']:,} ({at['share']:.1%})",
            money(at["profit"]),
            money(at["profit_per_customer"]),
        ],
        [
            "most profitable",
            "–" if best["threshold"] is None else f"{best['threshold']:.4f}",
            f"{best['contacted']:,} ({best['share']:.1%})",
            money(best["profit"]),
            money(best["profit_per_customer"]),
        ],
        [
            "contact everyone",
            "0",
            f"{n:,} (100%)",
            money(value["contact_everyone_profit"]),
            money(value["contact_everyone_profit"] / n),
        ],
        [
            "a perfect model",
            "–",
            "the churners",
            money(value["perfect_model_profit"]),
            money(value["perfect_model_profit"] / n),
        ],
    ]
    text = f"<p>{esc(Campaign.from_dict(value['campaign']).describe())}.</p>"
    if emp:
        text += (
            "<p>Expected maximum profit (EMP, over the acceptance rate's distribution): "
            f"{money(emp['emp_per_customer'])} per customer, contacting {emp['share']:.1%}.</p>"
        )
    table = table_html(["contacting", "threshold", "customers", "profit", "per customer"], rows)
    return text + table + f'<div class="grid">{_profit_plot(value)}</div>'


def _profit_plot(value: dict) -> str:
    curve = value["curve"]
    fig, ax = figure(6.4, 3.4)
    ax.plot([p["share"] for p in curve], [p["profit_per_customer"] for p in curve], color=BLUE, label="profit")
    ax.axhline(0, color=GREY, linewidth=0.8)
    at, best = value["at_threshold"], value["best"]
    ax.axvline(at["share"], color="black", linewidth=1, label=f"model's threshold ({at['share']:.0%})")
    if best["threshold"] is not None:
        ax.axvline(
            best["share"], color=RED, linestyle="--", linewidth=1, label=f"most profitable ({best['share']:.0%})"
        )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="share of customers contacted (highest churn probability first)", ylabel="profit per customer")
    number_axis(ax.yaxis)
    legend_above(ax, columns=3)
    return plot("Profit over the share contacted", svg(fig), "expected over acceptance, on the labelled rows")
