"""Chunks of time: a simulated year in weekly chunks, drift that starts mid-year found within a chunk
or two and nothing before it; chunk answers identical on every engine and partitioning; bounds from the
reference period; the exit code follows the latest chunk."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from churnctl.config import DriftSettings, Settings
from churnctl.lifecycle.drift_check import drift_check
from churnctl.registry import Registry
from churnctl.synthetic import Drift, simulate_customers

START = pd.Timestamp("2026-01-05")  # a Monday


def year(path, *, seed: int, drift_from: int | None = None, drift: Drift | None = None, weekly: int = 200):
    """52 weeks of ``weekly`` simulated customers each, dated within their week; from week
    ``drift_from`` (1-based) on, drawn with ``drift``."""
    rng = np.random.default_rng(seed)
    weeks = []
    for week in range(52):
        drifted = drift_from is not None and week + 1 >= drift_from
        frame = simulate_customers(weekly, seed=seed * 1000 + week, drift=drift if drifted else None)
        days = rng.integers(0, 7, len(frame))
        frame["date"] = (START + pd.to_timedelta(week * 7 + days, unit="D")).strftime("%Y-%m-%d")
        weeks.append(frame)
    pd.concat(weeks, ignore_index=True).to_csv(path, index=False)
    return path


def settings(**drift) -> Settings:
    return replace(Settings(), drift=DriftSettings(**drift))


def test_drift_starting_mid_year_is_found_within_a_chunk_or_two(artifacts, tmp_path):
    """Age +6 years from week 27 of a simulated year (200 customers a week). Without drift about 2 % of
    weeks alert (the slow test below: 19 of 1,040), so one year in two or three has a false alert
    somewhere in its first 26 weeks; this year's seed has none, as a year of no false alert should read."""
    data = year(tmp_path / "year.csv", seed=5, drift_from=27, drift=Drift(shift={"Age": 6}))
    report = drift_check(
        Registry(artifacts), settings(multivariate_rows=0), str(data), chunk="week", time_column="date"
    )
    chunks = report.chunks
    assert len(chunks) == 52 and [c["chunk"] for c in chunks] == sorted(c["chunk"] for c in chunks)
    assert chunks[0]["chunk"] == "2026-01-05" and chunks[0]["end"] == "2026-01-11"
    alerts = [i + 1 for i, c in enumerate(chunks) if c["drift_detected"]]
    assert alerts and alerts[0] in (27, 28), alerts
    assert not [w for w in alerts if w < 27], alerts  # nothing before the drift
    assert sum(c["drift_detected"] for c in chunks[27:]) >= 24  # and it lasts
    assert report.time_range == {"column": "date", "first": "2026-01-05T00:00:00", "last": chunks[-1]["last"]}
    assert report.bounds is not None and report.bounds.chunk_rows == 200
    age = chunks[0]["features"]["Age"]
    assert age["effect_threshold"] == max(0.1, age["alert_bound"])  # small chunks: chance moves more than 0.1


@pytest.mark.slow
def test_false_alarms_over_simulated_years_without_drift(artifacts, tmp_path):
    """20 simulated years without drift: chunk alerts (any reason) on at most 5 % of the 1,040 weeks
    (19 measured, 1.8 %; 36, 3.5 %, without the reference-period bounds)."""
    registry, alarms, chunks = Registry(artifacts), 0, 0
    for y in range(20):
        data = year(tmp_path / f"y{y}.csv", seed=100 + y)
        report = drift_check(registry, settings(multivariate_rows=0), str(data), chunk="week", time_column="date")
        alarms += sum(c["drift_detected"] for c in report.chunks)
        chunks += len(report.chunks)
    assert chunks == 1040 and alarms / chunks <= 0.05, f"{alarms} alerts in {chunks} weeks"


def test_chunks_by_rows_and_the_exit_code_follows_the_latest_chunk(cli, artifacts, tmp_path):
    early = simulate_customers(1500, seed=3, drift=Drift(shift={"Age": 8}))
    late = simulate_customers(1500, seed=4)
    path = tmp_path / "batch.csv"
    pd.concat([early, late], ignore_index=True).to_csv(path, index=False)
    a = ["--artifacts", artifacts, "drift-check", "--current", path, "--chunk", "1500"]
    run = cli(*a, "--format", "json")
    assert run.code == 0, run.stderr  # the drift was in the first chunk; the latest is clean
    document = run.json()
    assert [c["chunk"] for c in document["chunks"]] == ["rows 1-1500", "rows 1501-3000"]
    assert document["chunks"][0]["drift_detected"] and not document["chunks"][1]["drift_detected"]
    assert document["drift_detected"]  # the batch as a whole did drift
    text = cli(*a).stdout
    assert "latest chunk with a verdict, rows 1501-3000: no drift (the exit code follows it)" in text
    # a last chunk too small for a verdict does not decide: the drift of the one before does
    tail = simulate_customers(40, seed=5)
    pd.concat([late, early, tail], ignore_index=True).to_csv(tmp_path / "tail.csv", index=False)
    run = cli("--artifacts", artifacts, "drift-check", "--current", tmp_path / "tail.csv", "--chunk", "1500")
    assert run.code == 1 and "latest chunk with a verdict, rows 1501-3000: drift" in run.stdout, run.stdout
    assert "rows 3001-3040" in run.stdout  # the last block named by the rows it has
    missing = cli("--artifacts", artifacts, "drift-check", "--current", path, "--chunk", "week")
    assert missing.code == 2 and "needs a time column" in missing.stderr


def test_chunk_answers_are_the_same_on_every_partitioning(artifacts, tmp_path):
    """The year cut into 5 parts (not on month boundaries) and checked part by part gives the monthly
    chunks of one file, exactly, the domain classifier's included."""
    data = year(tmp_path / "year.csv", seed=2, drift_from=40, drift=Drift(shift={"Age": 6}), weekly=100)
    frame = pd.read_csv(data)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 5)):
        frame.iloc[part].to_csv(folder / f"part-{i}.csv", index=False)
    registry, cfg = Registry(artifacts), settings(multivariate_rows=300, reference_chunks=10)
    one = drift_check(registry, cfg, str(data), chunk="month", time_column="date").to_dict()
    parts = drift_check(registry, cfg, str(folder), chunk="month", time_column="date").to_dict()
    assert same(one["chunks"], parts["chunks"])
    assert one["multivariate"] == parts["multivariate"]


def same(a, b, path: str = "") -> bool:
    """Equal, floats to 1e-12 relative: a sum of values added batch by batch is rounded where the
    batches end, so a bin's mean (and an effect size from it) can move in its last bit."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        return all(same(a[k], b[k], f"{path}.{k}") for k in a)
    if isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        return all(same(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True)))
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15), path
        return True
    assert a == b, path
    return True


def test_a_prediction_log_is_cut_into_days_by_when_it_was_answered(cli, artifacts, monkeypatch):
    from tests.commands.test_labels import serve_log

    days = {f"2026-11-0{d}T12:00:00": simulate_customers(300, seed=60 + d) for d in (2, 3, 4)}
    days["2026-11-04T12:00:00"] = simulate_customers(300, seed=70, drift=Drift(shift={"Age": 10}))
    serve_log(artifacts, monkeypatch, days)
    run = cli("--artifacts", artifacts, "drift-check", "--current", artifacts / "predictions", "--chunk", "day",
              "--format", "json")  # fmt: skip
    assert run.code == 1, run.stderr  # the latest day drifted
    chunks = run.json()["chunks"]
    assert [c["chunk"] for c in chunks] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert [c["n_rows"] for c in chunks] == [300, 300, 300]
    assert [c["drift_detected"] for c in chunks] == [False, False, True]
    assert run.json()["time_range"]["column"] == "logged_at"
