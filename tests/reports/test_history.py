"""churnctl monitor: the drift history as JSON and as a page whose every chart has time on its x axis and
marks the model changes; alerts from where the drift started; late labels beside the estimate; a page
opened in a headless browser; 500 kept checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import matplotlib.dates as mdates
import pandas as pd
import pytest

import churnctl.reports.history as history_report
from churnctl.reports import page
from churnctl.synthetic import Drift
from tests.conftest import copy_version
from tests.drift.test_chunks import year
from tests.reports.test_figures import problems


@pytest.fixture
def dated_figures(monkeypatch):
    """Every figure of the page, checked as it is turned into SVG: readable, and dates on the x axis."""
    found: list[str] = []
    drawn: list[tuple[float, float]] = []

    def checking_svg(figure):
        found.extend(problems(figure))
        for ax in figure.axes:
            if not isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter):
                found.append(f"{ax.get_ylabel() or 'a chart'}: the x axis is not time")
            drawn.append(tuple(mdates.num2date(x).year for x in ax.get_xlim()))
        return page.svg(figure)

    monkeypatch.setattr(history_report, "svg", checking_svg)
    return found, drawn


@pytest.fixture(scope="module")
def monitored(trained_artifacts, tmp_path_factory):
    """A registry with a year checked in monthly chunks (Age +6 years from week 27), a later model
    promoted, and late labels of the year's predictions."""
    from churnctl.cli.app import main

    folder = tmp_path_factory.mktemp("monitored")
    artifacts = folder / "artifacts"
    shutil.copytree(trained_artifacts, artifacts)
    data = year(folder / "year.csv", seed=5, drift_from=27, drift=Drift(shift={"Age": 6}))

    def run(*args):
        code = None
        try:
            main(["--artifacts", str(artifacts), "--quiet", *map(str, args)])
        except SystemExit as exc:
            code = exc.code
        assert code in (0, 1, None), args

    run("drift-check", "--current", data, "--chunk", "month", "--time-column", "date")
    copy_version(artifacts, "v0002")
    run("models", "promote", "v0002")
    frame = pd.read_csv(data)
    frame.iloc[:2000].to_csv(folder / "january.csv", index=False)
    run("drift-check", "--current", folder / "january.csv")  # one whole batch, no time column read
    run("predict", "--input", data, "--output", folder / "scored.csv")
    frame[["CustomerId", "Exited"]].drop_duplicates("CustomerId").to_csv(folder / "labels.csv", index=False)
    run("labels", "add", folder / "labels.csv", "--id-column", "CustomerId", "--predictions", folder / "scored.csv",
        "--scored-at", "2026-10-20")  # fmt: skip
    return artifacts


def test_the_history_as_json(cli, monitored):
    run = cli("--artifacts", monitored, "monitor", "--format", "json")
    assert run.code == 0, run.stderr
    t = run.json()
    assert t["checks"] == 2 and len(t["points"]) == 13 + 1
    chunked = [p for p in t["points"] if p["end"]]
    assert [p["time"][:7] for p in chunked][:3] == ["2026-01", "2026-02", "2026-03"]
    assert t["alerts"] and t["alerts"][0]["time"] == "2026-07-01"  # week 27 starts on 29 June: July alerts
    assert not [a for a in t["alerts"] if a["time"] < "2026-07-01" and a["end"]]
    assert t["features"][0] == "Age"
    assert [m["version"] for m in t["marks"]][-1] == "v0002" and t["marks"][-1]["event"] == "model_promoted"
    [october] = t["realised"]
    assert october["period"] == "2026-10-01" and october["model_version"] == "v0002"
    assert october["n_rows"] == len(pd.read_csv(monitored.parent / "labels.csv"))
    july = next(p for p in chunked if p["time"] == "2026-07-01")
    assert july["features"]["Age"]["drift"] and july["estimated_roc_auc"]["lower"] < july["estimated_roc_auc"]["value"]
    assert july["multivariate"]["roc_auc"] > july["multivariate"]["bound"]
    since = cli("--artifacts", monitored, "monitor", "--since", "2026-09-01", "--format", "json").json()
    assert all((p["end"] or p["time"]) >= "2026-09-01" for p in since["points"]) and len(since["points"]) < 14


def test_the_page_draws_every_chart_over_time(cli, monitored, tmp_path, dated_figures):
    found, drawn = dated_figures
    out = tmp_path / "history.html"
    run = cli("--artifacts", monitored, "monitor", "--report", out)
    assert run.code == 0, run.stderr
    text = out.read_text()
    charts = text.count("<svg")
    assert charts == 1 + 2 + 1 + 10  # performance; mean and shift; domain classifier; one per feature
    assert not found, found
    assert len(drawn) == charts and all(2025 <= a <= b <= 2027 for a, b in drawn), drawn
    assert "v0002" in text and "realised (late labels, per month)" in text
    assert "Realised performance per month (late labels)" in text  # the table beside the chart
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")


def test_the_page_opens_in_a_headless_browser(cli, monitored, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium or Chrome on this machine to open the page with")
    out = tmp_path / "history.html"
    assert cli("--artifacts", monitored, "monitor", "--report", out).code == 0
    shot = tmp_path / "shot.png"
    options = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    subprocess.run(
        [browser, *options, "--window-size=1100,2400", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)[..., :3]
    drawn = (pixels < 0.9).any(axis=2)  # not white: text, lines, bands
    assert pixels.shape[:2] == (2400, 1100)
    rows = drawn.mean(axis=1)
    assert (rows > 0.01).mean() > 0.3, "most of the page is blank"  # charts fill the page, not one line of text
    dom = subprocess.run(
        [browser, *options, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120, check=False
    ).stdout
    assert dom.count("<svg") == 14 and "Drift history" in dom


def test_500_kept_checks_make_one_page(cli, artifacts, tmp_path):
    """500 weekly checks (copies of one real result, dated a week apart) give 500 points, their alerts and
    one page; how long it takes is measured in the benchmarks, not here."""
    data = tmp_path / "batch.csv"
    from churnctl.synthetic import simulate_customers

    simulate_customers(800, seed=2).to_csv(data, index=False)
    assert cli("--artifacts", artifacts, "drift-check", "--current", data).code in (0, 1)
    [kept] = (artifacts / "history" / "drift").rglob("*.json")
    document = json.loads(kept.read_text())
    assert kept.stat().st_size < 12_000  # one unchunked check of 10 features
    start = datetime(2017, 1, 2, tzinfo=UTC)
    for week in range(500):
        when = start + timedelta(weeks=week)
        document["checked_at"] = when.isoformat()
        document["result"]["drift_detected"] = bool(week % 50 == 49)
        document["result"]["reasons"] = ["planted"] if week % 50 == 49 else []
        day = artifacts / "history" / "drift" / when.strftime("%Y-%m-%d")
        day.mkdir(parents=True, exist_ok=True)
        (day / f"000000.000000-v0001-{week:08x}.json").write_text(json.dumps(document))
    out = tmp_path / "history.html"
    run = cli("--artifacts", artifacts, "monitor", "--report", out, "--format", "json")
    assert run.code == 0, run.stderr
    t = run.json()
    assert t["checks"] == 501 and len(t["points"]) == 501 and len(t["alerts"]) >= 10
    assert out.stat().st_size < 5_000_000 and out.read_text().count("<svg") == 14


def test_checks_of_other_models_or_batches_for_the_same_chunk_are_points_of_their_own():
    from churnctl.monitoring.timeline import points

    def document(version, current, when, drift):
        chunk = {"chunk": "2026-03-02", "start": "2026-03-02", "end": "2026-03-08", "n_rows": 500,
                 "status": "drift" if drift else "no_drift", "drift_detected": drift, "reasons": [], "features": {},
                 "prediction": {}, "estimated_performance": {}, "performance": None, "multivariate": None}  # fmt: skip
        result = {"model_version": version, "chunking": {"by": "week"}, "chunks": [chunk], "time_range": None}
        return {"checked_at": when, "current": current, "current_sha256": when, "result": result}

    found, checks = points(
        [
            document("v0001", "log/", "2026-03-09T01:00:00", True),
            document("v0002", "log/", "2026-03-09T02:00:00", False),  # a challenger checked on the same input
            document("v0001", "other.csv", "2026-03-09T03:00:00", False),  # another input for the same week
            document("v0001", "log/", "2026-03-10T01:00:00", True),  # the log again, grown: replaces the first
        ]
    )
    assert checks == 4 and len(found) == 3
    assert sorted((p["model_version"], p["checked_at"][:10]) for p in found) == [
        ("v0001", "2026-03-09"), ("v0001", "2026-03-10"), ("v0002", "2026-03-09"),
    ]  # fmt: skip
