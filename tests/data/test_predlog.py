"""The prediction log on its own: files per period and process, rotation, retention, a failed write
taken back, and a reader that skips a cut last line and refuses what is not a log."""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime

import pytest

from churnctl.data.predlog import PredictionLog, _host
from churnctl.data.predlog_reader import LogReading, is_prediction_log, log_source
from churnctl.errors import DataError

OUTPUT = {"churn_probability": 0.25, "churn_label": 0, "risk_level": "low", "confidence": 0.5}


def at(monkeypatch, text: str) -> None:
    stamp = datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    monkeypatch.setattr("churnctl.data.predlog.time.time", lambda: stamp)


def write(log: PredictionLog, n: int, version: str = "v0001") -> None:
    rows = [{"Age": 30 + i, "Geography": "France", "extra": "not kept"} for i in range(n)]
    log.write(version, rows, [OUTPUT] * n, ["Age", "Geography", "CustomerId"])


def test_hourly_files_rotate_per_hour_inside_day_folders(tmp_path, monkeypatch):
    log = PredictionLog(tmp_path, "hourly")
    at(monkeypatch, "2026-03-01 23:59:59")
    write(log, 2)
    at(monkeypatch, "2026-03-02 00:00:01")
    write(log, 3)
    log.close()
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.jsonl"))
    me = f"{_host()}-{os.getpid()}"
    assert names == [f"2026-03-01/2026-03-01T23.{me}.jsonl", f"2026-03-02/2026-03-02T00.{me}.jsonl"]
    line = json.loads((tmp_path / names[1]).read_text().splitlines()[0])
    assert line["input"] == {"Age": 30, "Geography": "France"} and line["output"] == OUTPUT
    assert line["model_version"] == "v0001" and line["time"].startswith("2026-03-02T00:00:01")


def test_daily_files_and_retention(tmp_path, monkeypatch):
    old = tmp_path / "2026-01-01"
    old.mkdir()
    (old / "2026-01-01.1.jsonl").write_text("")
    (tmp_path / "notes").mkdir()  # not a day folder: never touched
    log = PredictionLog(tmp_path, "daily", keep_days=30)
    at(monkeypatch, "2026-03-02 12:00:00")
    write(log, 1)
    log.close()
    assert not old.exists() and (tmp_path / "notes").exists()
    assert [p.name for p in tmp_path.rglob("*.jsonl")] == [f"2026-03-02.{_host()}-{os.getpid()}.jsonl"]


def test_a_failed_write_leaves_no_cut_line(tmp_path, monkeypatch):
    log = PredictionLog(tmp_path)
    write(log, 2)
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("churnctl.data.predlog.os.write", half_then_full)
    with pytest.raises(OSError):
        write(log, 3)
    monkeypatch.setattr("churnctl.data.predlog.os.write", real_write)
    write(log, 1)
    log.close()
    lines = next(tmp_path.rglob("*.jsonl")).read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["input"]["Age"] in (30, 31) for line in lines)


def test_a_line_cut_by_a_killed_process_with_the_same_pid_is_closed_off(tmp_path):
    log = PredictionLog(tmp_path)
    write(log, 1)
    path = log.path
    log.close()
    with open(path, "ab") as handle:
        handle.write(b'{"time": "2026')  # killed mid-line
    write(log, 1)  # a new process that got the same pid
    log.close()
    _, frames, reading = read(tmp_path, ["Age", "Geography"])
    assert sum(len(f) for f in frames) == 2 and len(reading.skipped) == 1


def read(path, columns, batch_rows=100_000):
    """A prediction log read part by part, as drift-check reads it: (source, frames, what reading found)."""
    source, frames, reading = log_source(path), [], LogReading()
    for part in source.parts:
        frames += list(part.batches(columns, batch_rows))
        reading.add(part.reading())
    return source, frames, reading


def test_the_reader_skips_the_line_being_written_and_counts_versions(tmp_path):
    log = PredictionLog(tmp_path)
    write(log, 4, "v0001")
    write(log, 2, "v0002")
    log.close()
    with open(next(tmp_path.rglob("*.jsonl")), "ab") as handle:
        handle.write(b'{"time": "2026-03-02T12:00:00Z", "input": {"Age": 1')
    source, frames, reading = read(tmp_path, ["Age", "Geography"], batch_rows=100)
    assert source.read_header() == ["Age", "Geography", "logged_at"]  # and when each was answered
    assert list(frames[0]["Age"]) == [30, 31, 32, 33, 30, 31] and reading.cut == 1
    assert reading.versions == {"v0001": 4, "v0002": 2}
    assert "several model versions" in reading.warnings()[0]
    assert 4 <= source.estimate_rows() <= 8


def test_what_is_not_a_prediction_log_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no prediction log files"):
        log_source(tmp_path / "empty")
    other = tmp_path / "rows.jsonl"
    other.write_text('{"Age": 3}\n{"Age": 4}\n')
    assert is_prediction_log(other) and is_prediction_log(tmp_path) and not is_prediction_log(tmp_path / "x.csv")
    with pytest.raises(DataError, match="not a churnctl prediction log"):
        read(other, ["Age"])


def test_leftovers_do_not_stop_the_reader(tmp_path):
    (tmp_path / "a.jsonl").write_text("")  # what a failed first write leaves
    (tmp_path / "b.jsonl").write_text('{"time": "cut')  # a cut line only
    (tmp_path / "c.jsonl").write_text('not json\n{"input": {"Age": 1}}\n{"input": {"Age": 2}}\n')
    (tmp_path / "d.jsonl").write_text("")
    source, frames, reading = read(tmp_path, ["Age"])
    assert source.read_header() == ["Age", "logged_at"]
    assert list(frames[0]["Age"]) == [1, 2]
    assert reading.skipped == [f"{tmp_path / 'c.jsonl'} line 1"] and reading.cut == 1
    assert reading.warnings()[0].startswith("1 line(s) are not prediction log records")


def test_syncing_never_holds_up_a_write(tmp_path, monkeypatch):
    import threading
    import time

    log = PredictionLog(tmp_path)
    write(log, 1)
    started = threading.Event()

    def slow_fsync(fd):
        started.set()
        time.sleep(0.5)

    monkeypatch.setattr("churnctl.data.predlog.os.fsync", slow_fsync)
    syncing = threading.Thread(target=log.sync)
    syncing.start()
    assert started.wait(5)
    begin = time.monotonic()
    write(log, 1)
    assert time.monotonic() - begin < 0.2
    syncing.join()
