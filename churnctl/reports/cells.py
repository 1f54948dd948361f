"""Numbers as both the terminal tables and the HTML pages write them (plain Python, cheap to import)."""

from __future__ import annotations

from typing import Any

DECILE_COLUMNS = ["decile", "rows", "churners", "churn rate", "lift", "churners found", "cumulative lift"]


def money(amount: float) -> str:
    return f"{amount:,.0f}" if abs(amount) >= 100 else f"{amount:,.2f}"


def decile_cells(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The lift-by-decile rows (see :func:`churnctl.model.metrics`), one list of cells each."""
    return [
        [
            r["decile"],
            f"{r['rows']:,}",
            f"{r['churners']:,}",
            "–" if r["churn_rate"] is None else f"{r['churn_rate']:.1%}",
            "–" if r["lift"] is None else f"{r['lift']:.2f}×",
            f"{r['cumulative_gain']:.1%}",
            "–" if r["cumulative_lift"] is None else f"{r['cumulative_lift']:.2f}×",
        ]
        for r in rows
    ]
