"""Self-contained HTML reports: one file, plots drawn with matplotlib and embedded as inline SVG, no
external scripts, styles or fonts (it opens offline and prints). ``page`` builds the document,
``evaluation`` and ``drift`` the reports of ``evaluate --report`` and ``drift-check --report``."""

from __future__ import annotations

from typing import Any


def render(kind: str, result: Any) -> str:
    """The HTML page of a command's result: ``evaluation`` (an EvaluateResult with its scores) or
    ``drift`` (a DriftReport with its distributions)."""
    if kind == "evaluation":
        from churnctl.reports.evaluation import evaluation_report

        return evaluation_report(result)
    from churnctl.reports.drift import drift_report

    return drift_report(result)
