"""The page of ``churnctl monitor``: the drift history over time (:mod:`churnctl.monitoring.timeline`).

Every chart has time on its x axis (UTC) and marks the model changes of the event log (promotions solid,
rollbacks dashed, the version named above); points of chunks (or checks) that alerted are red. Charts:
performance estimated without labels with its band beside the realised performance (labels in the
batches, and late labels per period), the churn-probability distribution (its mean, and its shift
against the alert threshold), the domain classifier against its bound, and per feature its drift effect
against the threshold it was judged by (the configured minimum or the reference period's bound).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnctl.reports.page import document, esc, figure, legend_above, plot, svg, table_html

LINE, BAND, ALERT, LIMIT, LABELS = "#2f6db5", "#c9d9ee", "#b42318", "#8a94a3", "#1a7f37"
PANELS = 12  # features drawn; the rest are in a table


def _times(values: list[Any]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="ISO8601")).tz_convert(None)


def _time_axis(ax: Any, marks: list[dict[str, Any]], times: pd.DatetimeIndex) -> None:
    """Dates on the x axis, and the model changes inside the charted span as vertical lines."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if len(times) == 0:
        return
    span = times.max() - times.min()
    if span < pd.Timedelta(days=2):  # checks minutes apart: a day either side, not a clock of seconds
        middle = times.min() + span / 2
        lo, hi = middle - pd.Timedelta(days=1), middle + pd.Timedelta(days=1)
    else:
        lo, hi = times.min() - span * 0.03, times.max() + span * 0.03
    ax.set_xlim(lo, hi)
    for mark in marks:
        when = _times([mark["time"]])[0]
        if not lo <= when <= hi:
            continue
        rollback = mark["event"] == "model_rolled_back"
        ax.axvline(when, color="#5b6776", linewidth=0.9, linestyle="--" if rollback else "-", alpha=0.8)
        label = f"{'↩ ' if rollback else ''}{mark['version']}"
        ax.annotate(label, (when, 1.0), xycoords=("data", "axes fraction"), fontsize=7, color="#5b6776",
                    xytext=(2, -9), textcoords="offset points")  # fmt: skip


def _alerts(ax: Any, times: pd.DatetimeIndex, values: list[float | None], alerted: list[bool]) -> None:
    hit = [(t, v) for t, v, a in zip(times, values, alerted, strict=True) if a and v is not None]
    if hit:
        ax.scatter([t for t, _ in hit], [v for _, v in hit], s=16, color=ALERT, zorder=3, label="alerted")


def _values(points: list[dict[str, Any]], get: Any) -> list[float | None]:
    out = []
    for p in points:
        try:
            value = get(p)
        except (KeyError, TypeError):
            value = None
        out.append(None if value is None else float(value))
    return out


def _series(ax: Any, times: pd.DatetimeIndex, values: list[float | None], **style: Any) -> None:
    y = np.array([np.nan if v is None else v for v in values], dtype=float)
    ax.plot(times, y, marker="o", markersize=2.5, linewidth=1.3, **style)


def _performance(t: dict[str, Any], times: pd.DatetimeIndex) -> str:
    points = t["points"]
    fig, ax = figure(9.6, 3.0)
    value = _values(points, lambda p: p["estimated_roc_auc"]["value"])
    lower = _values(points, lambda p: p["estimated_roc_auc"]["lower"])
    upper = _values(points, lambda p: p["estimated_roc_auc"]["upper"])
    low = np.array([np.nan if v is None else v for v in lower])
    high = np.array([np.nan if v is None else v for v in upper])
    ax.fill_between(times, low, high, color=BAND, label="estimated, 95 % band", step=None)
    _series(ax, times, value, color=LINE, label="estimated without labels (CBPE)")
    reference = [r for r in _values(points, lambda p: p["estimated_roc_auc"]["reference"]) if r is not None]
    if reference:
        ax.axhline(reference[-1], color=LIMIT, linewidth=1, linestyle=":", label="estimated on the test split")
    batch = _values(points, lambda p: p["realised_roc_auc"])
    if any(v is not None for v in batch):
        ax.scatter(
            times, [np.nan if v is None else v for v in batch], s=14, color="#111", label="realised (batch labels)"
        )
    late = [r for r in t["realised"] if r.get("roc_auc") is not None]
    if late:
        ax.scatter(_times([r["period"] for r in late]), [r["roc_auc"] for r in late], marker="s", s=22,
                   color=LABELS, zorder=3, label=f"realised (late labels, per {t['period']})")  # fmt: skip
    _alerts(ax, times, value, [bool(p["estimated_roc_auc"] and "estimated" in " ".join(p["reasons"])) for p in points])
    ax.set_ylabel("ROC-AUC")
    _time_axis(ax, t["marks"], times.append(_times([r["period"] for r in late])) if late else times)
    legend_above(ax, columns=3)
    return svg(fig)


def _effect(
    points: list[dict[str, Any]], times: pd.DatetimeIndex, marks: list[dict[str, Any]], get: Any, label: str
) -> str:
    """An effect size over time against the threshold each point was judged by (a step: the bound
    depends on the chunk's size)."""
    fig, ax = figure(4.8, 2.5)
    effect = _values(points, lambda p: get(p)["effect_size"])
    threshold = _values(points, lambda p: get(p)["threshold"])
    ax.step(times, [np.nan if v is None else v for v in threshold], where="mid", color=LIMIT, linewidth=1,
            linestyle="--", label="alert threshold")  # fmt: skip
    _series(ax, times, effect, color=LINE, label=label)
    _alerts(ax, times, effect, [bool(get(p).get("drift")) for p in points])
    ax.set_ylim(bottom=0)
    _time_axis(ax, marks, times)
    legend_above(ax, columns=3)
    return svg(fig)


def _mean_probability(points: list[dict[str, Any]], times: pd.DatetimeIndex, marks: list[dict[str, Any]]) -> str:
    fig, ax = figure(4.8, 2.5)
    _series(ax, times, _values(points, lambda p: p["prediction"]["mean_probability"]), color=LINE,
            label="mean churn probability")  # fmt: skip
    ax.set_ylim(bottom=0)
    _time_axis(ax, marks, times)
    legend_above(ax)
    return svg(fig)


def _joint(points: list[dict[str, Any]], times: pd.DatetimeIndex, marks: list[dict[str, Any]]) -> str:
    fig, ax = figure(9.6, 2.5)
    auc = _values(points, lambda p: p["multivariate"]["roc_auc"])
    bound = _values(points, lambda p: p["multivariate"]["bound"])
    ax.step(times, [np.nan if v is None else v for v in bound], where="mid", color=LIMIT, linestyle="--",
            linewidth=1, label="bound from the reference period")  # fmt: skip
    _series(ax, times, auc, color=LINE, label="domain classifier ROC-AUC (0.5: alike)")
    _alerts(ax, times, auc, [bool(p["multivariate"] and p["multivariate"].get("drift")) for p in points])
    _time_axis(ax, marks, times)
    legend_above(ax, columns=3)
    return svg(fig)


def _headline(t: dict[str, Any]) -> str:
    points, alerts = t["points"], t["alerts"]
    if not points:
        return "<p>No drift checks kept yet: run <code>churnctl drift-check</code> to start the history.</p>"
    latest = points[-1]
    verdict = "DRIFT" if latest["drift_detected"] else str(latest["status"]).replace("_", " ")
    css = "bad" if latest["drift_detected"] else ("good" if latest["status"] == "no_drift" else "")
    first_alert = f"; the first at {esc(alerts[0]['time'][:10])}" if alerts else ""
    reasons = "".join(f"<li>{esc(r)}</li>" for r in latest["reasons"])
    return (
        f'<p class="verdict {css}">Latest ({esc(latest["time"][:10])}, model {esc(latest["model_version"])}): '
        f"{esc(verdict)}</p>"
        + (f"<ul>{reasons}</ul>" if reasons else "")
        + f"<p>{t['checks']:,} checks kept, {len(points):,} points from {esc(t['first'][:10])} to "
        f"{esc(str(t['last'])[:10])}; {len(alerts):,} alerted{first_alert}.</p>"
    )


def history_page(t: dict[str, Any]) -> str:
    """The self-contained page of a timeline (:func:`churnctl.monitoring.timeline.timeline`)."""
    points, marks = t["points"], t["marks"]
    sections = [("Now", _headline(t))]
    if points:
        times = _times([p["time"] for p in points])
        sections.append(
            (
                "Performance",
                plot(
                    "ROC-AUC over time",
                    _performance(t, times),
                    "The estimate needs no labels; realised values appear as labels arrive.",
                ),
            )
        )
        predictions = plot("Mean churn probability", _mean_probability(points, times, marks)) + plot(
            "Churn-probability shift",
            _effect(points, times, marks, lambda p: p["prediction"], "shift (reference SDs)"),
            "Wasserstein distance in reference standard deviations.",
        )
        sections.append(("Predictions", f'<div class="grid">{predictions}</div>'))
        if any(p["multivariate"] for p in points):
            sections.append(("Joint distribution", plot("Domain classifier", _joint(points, times, marks))))
        sections.append(("Features, closest to their threshold first", _features(t, times)))
        sections.append(("Alerts", _alert_table(t["alerts"])))
    if t["realised"]:
        sections.append((f"Realised performance per {t['period']} (late labels)", _realised_table(t["realised"])))
    sections.append(("Model changes", _marks_table(marks)))
    span = f"{t['first'][:10]} to {str(t['last'])[:10]}" if points else "no checks yet"
    return document("Drift history", f"{t['checks']:,} drift checks, {span} (UTC)", sections)


def _features(t: dict[str, Any], times: pd.DatetimeIndex) -> str:
    points, names = t["points"], t["features"]
    panels = [
        plot(name, _effect(points, times, t["marks"], lambda p, n=name: p["features"].get(n) or {}, "effect size"))
        for name in names[:PANELS]
    ]
    rest = []
    for name in names[PANELS:]:
        effects = [v for v in _values(points, lambda p, n=name: p["features"][n]["effect_size"]) if v is not None]
        alerts = sum(bool((p["features"].get(name) or {}).get("drift")) for p in points)
        rest.append([name, f"{max(effects, default=0.0):.4f}", alerts])
    listed = table_html(["feature", "largest effect", "alerts"], rest) if rest else ""
    return f'<div class="grid">{"".join(panels)}</div>{listed}'


def _alert_table(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return "<p>No chunk or check alerted.</p>"
    rows = [[a["time"][:10], (a["end"] or "")[:10], a["model_version"], "; ".join(a["reasons"])] for a in alerts[-200:]]
    note = f"<p>The latest 200 of {len(alerts):,}.</p>" if len(alerts) > 200 else ""
    return note + table_html(["from", "to", "model", "why"], rows, text=True)


def _marks_table(marks: list[dict[str, Any]]) -> str:
    if not marks:
        return "<p>No promotion or rollback in the event log.</p>"
    names = {"model_promoted": "promoted", "model_rolled_back": "rolled back"}
    rows = [[m["time"][:19].replace("T", " "), names[m["event"]], m["version"], m["previous"] or "", m["reason"] or ""]
            for m in marks]  # fmt: skip
    return table_html(["time (UTC)", "change", "version", "previous", "why"], rows, text=True)


def _realised_table(rows: list[dict[str, Any]]) -> str:
    def number(value: float | None) -> str:
        return "–" if value is None else f"{value:.3f}"

    body = [
        [r["period"], r["model_version"], f"{r['n_rows']:,}", f"{r['churn_rate']:.1%}", f"{r['mean_probability']:.1%}",
         number(r["roc_auc"]), number(r["precision"]), number(r["recall"])]
        for r in rows
    ]  # fmt: skip
    header = ["period", "model", "customers", "churn rate", "mean probability", "ROC-AUC", "precision", "recall"]
    return table_html(header, body)
