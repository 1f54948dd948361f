"""Self-contained HTML reports: one file, plots drawn with matplotlib and embedded as inline SVG, no
external scripts, styles or fonts (it opens offline and prints). ``page`` builds the document,
``evaluation`` and ``drift`` the reports of ``evaluate --report`` and ``drift-check --report``,
``history`` the page of ``monitor --report``."""

from __future__ import annotations

from typing import Any


def render(kind: str, result: Any) -> str:
    """The HTML page of a command's result: ``evaluation`` (an EvaluateResult with its scores) or
    ``drift`` (a DriftReport with its distributions) or ``history`` (a MonitorResult)."""
    if kind == "evaluation":
        from churnctl.reports.evaluation import evaluation_report

        return evaluation_report(result)
    if kind == "history":
        from churnctl.reports.history import history_page

        return history_page(result.timeline)
    from churnctl.reports.drift import drift_report

    return drift_report(result)
