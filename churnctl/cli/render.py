"""Rendering results: JSON documents and rich tables on stdout; nothing else goes to stdout."""

from __future__ import annotations

import json
import math
import sys
from enum import Enum


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def console():
    """The stdout console. Markup is off: column names, categories and paths come from users' files,
    and text such as ``[/bold]`` in them must print as it is, never be parsed (styles are applied
    with :func:`styled`)."""
    from rich.console import Console

    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120, highlight=False, markup=False)


def styled(*parts):
    """A line from (text, style) pairs and plain strings, e.g. ``styled(("no drift", "bold green"))``."""
    from rich.text import Text

    return Text.assemble(*parts)


def _clean(value):
    """JSON has no NaN or infinity: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit_json(document) -> None:
    sys.stdout.write(json.dumps(_clean(document), indent=2, default=str) + "\n")
    sys.stdout.flush()


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(title: str | None, columns: list[str], rows: list[list], **kwargs):
    from rich.table import Table

    out = Table(title=title, title_justify="left", **kwargs)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*[fmt(v) for v in row])
    return out


def key_values(title: str | None, pairs: list[tuple[str, object]]):
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for key, value in pairs:
        out.add_row(key, fmt(value))
    return out


def metrics_table(metrics: dict, title: str = "Metrics"):
    keys = ["roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss", "threshold",
            "top_decile_lift", "top_decile_capture", "churn_rate", "n_rows"]
    pairs = [(k, metrics.get(k)) for k in keys if k in metrics]
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    pairs.append(("confusion_matrix", f"TN {tn}  FP {fp}  FN {fn}  TP {tp}"))
    return key_values(title, pairs)
