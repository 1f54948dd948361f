"""The HTML page every report shares: inline style (laptop width and print), escaped text, SVG plots."""

from __future__ import annotations

import functools
import html
import io
import re
from pathlib import Path
from typing import Any

from churnctl.data import outputs

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       max-width: 1040px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 2em;
     border-bottom: 1px solid #d5dbe3; padding-bottom: .2em; }
.meta { color: #5b6776; } .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
        gap: 1.5em 2.5em; } figure { margin: 0; } figcaption { color: #5b6776; font-size: .9em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .25em .8em; text-align: right;
        border-bottom: 1px solid #e6eaf0; } th:first-child, td:first-child { text-align: left; }
table.text td { text-align: left; } table.metrics td:last-child, table.metrics th:last-child { text-align: left;
        color: #5b6776; } table.text td:first-child { color: #5b6776; white-space: nowrap; }
table.text th { text-align: left; } table.text td:not(:last-child) { white-space: nowrap; }
.verdict { font-size: 1.2em; font-weight: 600; } .bad { color: #b42318; } .good { color: #1a7f37; }
svg { max-width: 100%; height: auto; }
@media print { body { max-width: none; margin: 0; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def svg(figure: Any) -> str:
    """A matplotlib figure as inline SVG (text kept as text, no metadata, no external reference)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    _pyplot().close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE (an external DTD)
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)


@functools.cache
def _pyplot() -> Any:
    """matplotlib's pyplot, set up once: no display, text as SVG text, small type, open axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def figure(width: float = 4.6, height: float = 3.4) -> tuple[Any, Any]:
    """A new figure and axes, drawn without a display; text as SVG text in the page's font."""
    return _pyplot().subplots(figsize=(width, height))


def legend_above(ax: Any, handles: list | None = None, columns: int = 2) -> None:
    """The legend above the plot, outside the data (``handles``: lines from more than one axes)."""
    options = {"loc": "lower center", "bbox_to_anchor": (0.5, 1.0), "ncol": columns, "frameon": False, "fontsize": 8}
    if handles is None:
        ax.legend(**options)
    else:
        ax.legend(handles, [h.get_label() for h in handles], **options)


def number_axis(axis: Any) -> None:
    """Plain, readable tick labels: 45,000 rather than 4.5e+04."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1000 else f"{v:g}"))


def table_html(header: list[str], rows: list[list[Any]], *, text: bool = False) -> str:
    """A table; ``text``: label/value lines read left to right (else numbers, right-aligned)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header) if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    css = ' class="text"' if text else ""
    head_html = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table{css}>{head_html}<tbody>{body}</tbody></table>"


def plot(title: str, drawing: str, caption: str = "") -> str:
    note = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure><h3>{esc(title)}</h3>{drawing}{note}</figure>"


def document(title: str, subtitle: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<section><h2>{esc(name)}</h2>{content}</section>" for name, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{esc(title)}</h1><p class="meta">{esc(subtitle)}</p>{body}</body></html>\n'
    )


def write(path: Path, text: str) -> None:
    """The report written atomically: a failed run leaves no half-written file."""
    with outputs.atomic_output(path) as out:
        out.tmp.write_text(text, encoding="utf-8")
