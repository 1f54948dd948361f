"""Rendering results: JSON documents and rich tables on stdout; nothing else goes to stdout."""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from churnctl.reports.cells import DECILE_COLUMNS, decile_cells, money


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def console() -> Console:
    """The stdout console. Markup is off: column names, categories and paths come from users' files,
    and text such as ``[/bold]`` or ``:warning:`` in them must print as it is, never be parsed (styles are applied
    with :func:`styled`). Its width is the terminal's, or ``$COLUMNS``, or 120 when stdout is a file."""
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 120
    return Console(file=sys.stdout, width=width, highlight=False, markup=False, emoji=False)


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


LONGEST_UNBROKEN = 40  # a word longer than this (a long path) may fold; ids, names and numbers never do


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?[%×]?$")


def table(
    title: str | None,
    columns: list[str],
    rows: list[list[Any]],
    *,
    optional: tuple[str, ...] = (),
    **kwargs: Any,
) -> FittedTable:
    """A table that fits the width it is printed at without splitting a word: every column is at least
    as wide as its longest word (header included; up to :data:`LONGEST_UNBROKEN` characters), so ids,
    names, numbers and times are never broken, and text folds between words. When that is wider than
    the terminal, the ``optional`` columns are left out, in that order, until it fits (the caption says
    which; ``--format json`` has them all); on a terminal narrower still, names fold, numbers never."""
    return FittedTable(title, columns, [[fmt(v) for v in row] for row in rows], optional, kwargs)


@dataclass
class FittedTable:
    """A rich renderable laid out when printed, for the console's width then (see :func:`table`)."""

    title: str | None
    columns: list[str]
    cells: list[list[str]]
    optional: tuple[str, ...]
    options: dict[str, Any]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.fitted(options.max_width)

    def fitted(self, width: int) -> Table:
        words = [
            min(
                LONGEST_UNBROKEN,
                max([_longest_word(c), *(_longest_word(row[i]) for row in self.cells if i < len(row))]),
            )
            for i, c in enumerate(self.columns)
        ]
        shown, dropped = list(range(len(self.columns))), list[str]()
        for name in self.optional:
            if self._fits(self._build(words, shown, dropped), shown, width):
                break
            if name in self.columns:
                shown.remove(self.columns.index(name))
                dropped.append(name)
        built = self._build(words, shown, dropped)
        if self._fits(built, shown, width):
            return built
        # Narrower still: the text columns share what the numbers leave, folding inside words.
        numeric = [all(NUMBER.match(r[i]) for r in self.cells if i < len(r) and r[i]) for i in range(len(words))]
        text = [i for i in shown if not numeric[i]]
        left = width - (3 * len(shown) + 1) - sum(words[i] for i in shown if numeric[i])
        share = max(3, left // max(len(text), 1))
        return self._build([w if numeric[i] else 1 for i, w in enumerate(words)], shown, dropped, share)

    def _fits(self, built: Table, shown: list[int], width: int) -> bool:
        """Whether ``built`` renders within ``width`` with every word of its headers and cells whole and its
        right border drawn (drawn to find out: a console crops what does not fit)."""
        trial = Console(width=width, file=io.StringIO(), highlight=False, markup=False, emoji=False)
        with trial.capture() as captured:
            trial.print(built)
        lines = captured.get().splitlines()
        text = "\n".join(lines)
        if not any(line.rstrip().endswith("┓") for line in lines):  # the top right corner: nothing cropped
            return False
        words = {w for i in shown for w in self.columns[i].split()}
        words |= {
            w for row in self.cells for i in shown if i < len(row) for w in row[i].split() if len(w) <= LONGEST_UNBROKEN
        }
        return all(w in text for w in words)

    def _build(self, widths: list[int], shown: list[int], dropped: list[str], text_width: int | None = None) -> Table:
        options = dict(self.options)
        if dropped:
            options.setdefault(
                "caption", f"not shown on a terminal this narrow: {', '.join(dropped)} (--format json has every column)"
            )
            options.setdefault("caption_justify", "left")
        out = Table(title=self.title, title_justify="left", **options)
        for i in shown:
            most = text_width if text_width is not None and widths[i] == 1 else None
            out.add_column(self.columns[i], overflow="fold", min_width=widths[i], max_width=most)
        for row in self.cells:
            out.add_row(*(row[i] if i < len(row) else "" for i in shown))
        return out


def key_values(title: str | None, pairs: list[tuple[str, object]]) -> Table:
    out = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    out.add_column(style="bold")
    out.add_column(overflow="fold")
    for key, value in pairs:
        out.add_row(key, fmt(value))
    return out


def metrics_table(metrics: dict[str, Any], title: str = "Metrics") -> FittedTable:
    """The metrics by name, as people read them, each beside the value a score without information
    reaches on the same rows (``--format json`` keeps the keys and the raw numbers)."""
    from churnctl.model.metrics import METRICS, no_skill

    rate = metrics.get("churn_rate")
    rows = []
    for m in (m for m in METRICS if m.key in metrics):
        reference = no_skill(m.key, rate) if rate is not None else None
        rows.append([m.label, m.text(metrics[m.key]), "" if reference is None else m.text(reference)])
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    rows.append(["confusion", f"TN {tn:,} FP {fp:,} FN {fn:,} TP {tp:,}", ""])
    caption = "no skill: a constant score (the churn rate) or a random order on the same rows"
    return table(title, ["metric", "value", "no skill"], rows, caption=caption, caption_justify="left")


def when(stamp: object) -> str:
    """An ISO time stamp for tables: '2026-11-28 07:36:01' (UTC)."""
    return str(stamp or "")[:19].replace("T", " ")


def model_params(params: dict[str, Any]) -> str:
    """Estimator parameters as ``k=v, ...``; a blend's as ``family(k=v, ...) + family(...)``."""
    if "members" in params:
        return " + ".join(f"{m['estimator']}({model_params(m['params'])})" for m in params["members"])
    return ", ".join(f"{k}={v}" for k, v in params.items())


def importance_table(
    shares: dict[str, float], spreads: dict[str, float] | None = None, top: int = 15
) -> FittedTable | str:
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


def deciles_table(rows: list[dict[str, Any]]) -> FittedTable:
    """Lift and cumulative gains by decile of churn probability."""
    return table(
        "Lift by decile (highest churn probability first)",
        DECILE_COLUMNS,
        decile_cells(rows),
        optional=("cumulative lift", "rows"),
    )


def value_table(value: dict[str, Any]) -> FittedTable:
    """The campaign's profit: at the model's threshold, at the best one, the references, and the EMP."""
    n = max(int(value["n_rows"]), 1)

    def line(name: str, threshold: float | None, contacted: int, profit: float) -> list[str]:
        return [
            name,
            "–" if threshold is None else f"{threshold:.4f}",
            f"{contacted:,} ({contacted / n:.1%})",
            money(profit),
            money(profit / n),
        ]

    at, best = value["at_threshold"], value["best"]
    rows = [
        line("model's threshold", at["threshold"], at["contacted"], at["profit"]),
        line("most profitable", best["threshold"], best["contacted"], best["profit"]),
        line("contact everyone", 0.0, n, value["contact_everyone_profit"]),
        line("a perfect model", None, 0, value["perfect_model_profit"]),
    ]
    rows[-1][2] = "the churners"
    emp = value.get("emp")
    caption = describe_campaign(value["campaign"])
    if emp:
        caption += f"; EMP {money(emp['emp_per_customer'])} per customer at {emp['share']:.1%} contacted"
    return table(
        f"Campaign profit on {n:,} customers",
        ["contacting", "threshold", "customers", "profit", "per customer"],
        rows,
        optional=("threshold",),
        caption=caption,
        caption_justify="left",
    )


def describe_campaign(campaign: dict[str, Any]) -> str:
    from churnctl.value.campaign import Campaign

    return Campaign.from_dict(campaign).describe()


def threshold_text(threshold: float, strategy: str, policy: dict[str, Any] | None) -> str:
    """'0.1547 (profit: flags 40.8% out of fold, 32.47 per customer)'."""
    text = f"{threshold:.4f} ({strategy}"
    if policy:
        text += f": flags {policy['share_flagged']:.1%} out of fold"
        if policy.get("profit_per_customer") is not None:
            text += f", {money(policy['profit_per_customer'])} per customer"
    return text + ")"
