"""Rendering results: JSON documents and rich tables on stdout; nothing else goes to stdout."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def console() -> Console:
    """The stdout console. Markup is off: column names, categories and paths come from users' files,
    and text such as ``[/bold]`` or ``:warning:`` in them must print as it is, never be parsed (styles are applied
    with :func:`styled`)."""
    return Console(
        file=sys.stdout, width=None if sys.stdout.isatty() else 120, highlight=False, markup=False, emoji=False
    )


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from (text, style) pairs and plain strings, e.g. ``styled(("no drift", "bold green"))``."""
    return Text.assemble(*parts)


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(_clean(document), indent=2, default=str) + "\n")
    sys.stdout.flush()


# Version of the JSON documents' layout; it changes when a key is renamed, removed or changes meaning.
SCHEMA_VERSION = 1


def emit(
    result: Any,
    format: OutputFormat,
    text: Callable[[Console], None],
    *,
    key: str | None = None,
    versioned: bool = True,
) -> None:
    """Write a command's outcome: its JSON document (``to_dict()`` of a result) or its text form.

    A JSON document is an object that starts with ``schema_version``; a list goes under ``key``.
    Prediction rows (``versioned=False``) are data, written as they are.
    """
    if format is not OutputFormat.json:
        text(console())
        return
    document = result.to_dict() if hasattr(result, "to_dict") else result
    if versioned:
        document = {"schema_version": SCHEMA_VERSION, **({key: document} if key else document)}
    emit_json(document)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_NUMBER = re.compile(r"[-+]?[\d.,]+(?:[eE][-+]?\d+)?%?|-")


def table(title: str | None, columns: list[str], rows: list[list[Any]], **kwargs: Any) -> Table:
    """A table that fits the terminal: text folds at word boundaries (a word longer than its column
    folds), and a column of numbers is never narrower than its longest number, so none is broken."""
    out = Table(title=title, title_justify="left", **kwargs)
    cells = [[fmt(v) for v in row] for row in rows]
    for i, column in enumerate(columns):
        values = [row[i] for row in cells if i < len(row)]
        numeric = bool(values) and all(_NUMBER.fullmatch(v) for v in values)
        out.add_column(column, overflow="fold", min_width=max(map(len, values)) if numeric else None)
    for row in cells:
        out.add_row(*row)
    return out


def key_values(title: str | None, pairs: list[tuple[str, object]]) -> Table:
    out = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for key, value in pairs:
        out.add_row(key, fmt(value))
    return out


def metrics_table(metrics: dict[str, Any], title: str = "Metrics") -> Table:
    keys = [
        "roc_auc",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "brier",
        "ece",
        "log_loss",
        "threshold",
        "top_decile_lift",
        "top_decile_capture",
        "churn_rate",
        "n_rows",
    ]
    pairs = [(k, metrics.get(k)) for k in keys if k in metrics]
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    pairs.append(("confusion_matrix", f"TN {tn}  FP {fp}  FN {fn}  TP {tp}"))
    return key_values(title, pairs)


def when(stamp: object) -> str:
    """An ISO time stamp for tables: '2026-11-28 07:36:01' (UTC)."""
    return str(stamp or "")[:19].replace("T", " ")


def model_params(params: dict[str, Any]) -> str:
    """Estimator parameters as ``k=v, ...``; a blend's as ``family(k=v, ...) + family(...)``."""
    if "members" in params:
        return " + ".join(f"{m['estimator']}({model_params(m['params'])})" for m in params["members"])
    return ", ".join(f"{k}={v}" for k, v in params.items())


def importance_table(shares: dict[str, float], spreads: dict[str, float] | None = None, top: int = 15) -> Table | str:
    """Permutation importance ranked: share of the ROC-AUC the model loses when a feature is shuffled,
    with its spread over the repeats (± one standard deviation); the ``top`` largest."""
    if not shares:
        return "feature importance: not measured (the time budget was spent)"
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    rows = [
        [rank, name, f"{share:.1%}", f"± {spreads[name]:.1%}" if spreads and name in spreads else "–"]
        for rank, (name, share) in enumerate(ranked[:top], start=1)
    ]
    more = f" (top {top} of {len(ranked)})" if len(ranked) > top else ""
    title = f"Feature importance: share of the ROC-AUC lost when shuffled{more}"
    return table(title, ["#", "feature", "share", "spread"], rows)
