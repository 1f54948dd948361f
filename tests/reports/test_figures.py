"""The reports' figures as a reader sees them: every plot has a numeric axis with plain tick labels (no
1e+04, no interval notation, no offset multiplier), readable type, and legends that cover no data."""

from __future__ import annotations

import re

import pytest
from matplotlib.path import Path

import churnctl.reports.drift as drift_report
import churnctl.reports.evaluation as evaluation_report
from churnctl.reports import page

MIN_FONT_POINTS = 7
NUMBER = re.compile(r"^[−-]?[\d,]*\.?\d+%?×?$")


def _is_number(label: str) -> bool:
    return bool(NUMBER.match(label.strip()))


def problems(figure) -> list[str]:
    """What a reader would trip over in ``figure`` (drawn first, so positions are final)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = []
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
    for ax in figure.axes:
        title = ax.get_xlabel() or ax.get_ylabel() or "a plot"
        numeric_axes = 0
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            if any(re.search(r"\de[+-]\d|^[\(\[].*,.*[\)\]]$", label) for label in labels):
                found.append(f"{title}: scientific or interval tick labels {labels}")
            if axis.get_offset_text().get_text():
                found.append(f"{title}: an offset multiplier {axis.get_offset_text().get_text()!r}")
            if len(labels) >= 2 and all(_is_number(label) for label in labels):
                numeric_axes += 1
            small = [t.get_text() for t in axis.get_ticklabels() if t.get_text() and t.get_fontsize() < MIN_FONT_POINTS]
            if small:
                found.append(f"{title}: tick labels smaller than {MIN_FONT_POINTS} pt: {small}")
        ticked = len(ax.get_xticks()) or len(ax.get_yticks())
        if ticked and not numeric_axes and not ax.images:  # a confusion matrix: its counts are in its cells
            found.append(f"{title}: no axis with numbers")
        for legend in legends:
            box = legend.get_window_extent(renderer).shrunk(0.98, 0.98)
            for line in ax.get_lines():
                points = line.get_transform().transform(line.get_xydata())
                drawn = Path(points) if line.get_linestyle() not in ("None", "") else None
                if any(box.contains(x, y) for x, y in points) or (drawn and drawn.intersects_bbox(box, filled=False)):
                    found.append(f"{title}: the legend covers the line {line.get_label()!r}")
            for patch in ax.patches:
                extent = patch.get_window_extent(renderer)
                if extent.width > 0.5 and extent.height > 0.5 and box.overlaps(extent):
                    found.append(f"{title}: the legend covers a bar")
                    break
    return found


@pytest.fixture
def figure_problems(monkeypatch):
    """Every figure the reports draw, checked as it is turned into SVG."""
    found: list[str] = []
    checked = [0]

    def checking_svg(figure):
        found.extend(problems(figure))
        checked[0] += 1
        return page.svg(figure)

    for module in (drift_report, evaluation_report):
        monkeypatch.setattr(module, "svg", checking_svg)
    return found, checked


def test_evaluation_figures_read_plainly(cli, artifacts, tmp_path, figure_problems):
    found, checked = figure_problems
    run = cli("--artifacts", artifacts, "evaluate", "--report", tmp_path / "evaluation.html")
    assert run.code == 0, run.stderr
    assert checked[0] == 7 and not found, found


def test_drift_figures_read_plainly_for_every_kind_of_feature(cli, artifacts, tmp_path, figure_problems):
    """Numbers (Balance and EstimatedSalary in the tens of thousands), small whole numbers
    (NumOfProducts), flags and categories, with drift so that the two distributions differ."""
    from churnctl.synthetic import Drift, simulate_customers

    found, checked = figure_problems
    current = tmp_path / "current.csv"
    drift = Drift(shift={"Age": 8, "Balance": 30000})
    simulate_customers(3000, seed=8, drift=drift).to_csv(current, index=False)
    run = cli("--artifacts", artifacts, "drift-check", "--current", current, "--report", tmp_path / "drift.html")
    assert run.code == 1, run.stderr
    assert checked[0] >= 10 and not found, found


def test_the_check_catches_what_it_looks_for():
    """A legend over the data, a 1e+04 axis and an axis of interval labels are each reported."""
    fig, ax = page.figure()
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.legend(loc="center")
    assert any("covers the line" in p for p in problems(fig))
    fig, ax = page.figure()
    ax.bar(["(7.729e+04, 8.727e+04]", "(8.727e+04, 9.9e+04]"], [1, 2])
    ax.plot([10000, 90000], [0, 1], alpha=0)
    assert any("interval" in p for p in problems(fig))
    fig, ax = page.figure()
    ax.plot([1e6, 1e6 + 10], [0, 1])
    assert any("offset multiplier" in p or "scientific" in p for p in problems(fig))


def test_the_profit_curve_reads_plainly(cli, artifacts, tmp_path, figure_problems):
    found, checked = figure_problems
    value = ["--value", "customer_value=1000", "--value", "contact_cost=10", "--value", "incentive_cost=50"]
    run = cli("--artifacts", artifacts, "evaluate", *value, "--report", tmp_path / "evaluation.html")
    assert run.code == 0, run.stderr
    assert checked[0] == 8 and not found, found
    assert "Profit over the share contacted" in (tmp_path / "evaluation.html").read_text()
