"""Inputs of parts and the Dask engine: the same answers as the local engine whatever the partitioning,
partitioned output published only when every part is done, worker loss, bad addresses, no extra."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnctl.data.sources import resolve
from churnctl.drift.profile import RowSample
from churnctl.errors import DataError

SMALL_SAMPLE = "[drift]\nscore_rows = 1000\n"  # the scoring sample is a fraction of the rows: offsets matter


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed", reason="--engine dask needs the dask extra")
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as local:
        yield local


@pytest.fixture(scope="module")
def current(tmp_path_factory) -> pd.DataFrame:
    """Drifted current customers with labels, and a few rows without."""
    from churnctl.synthetic import parse_drift, simulate_customers

    frame = simulate_customers(6000, seed=21, drift=parse_drift(["Age=+3"], ["Geography=Germany:0.45"], []))
    frame.loc[frame.index[::97], "Exited"] = None
    return frame


def write_parts(frame: pd.DataFrame, folder: Path, parts: int, kind: str = "parquet") -> Path:
    folder.mkdir(parents=True)
    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    for i in range(parts):
        piece = frame.iloc[bounds[i] : bounds[i + 1]]
        if kind == "parquet":
            piece.to_parquet(folder / f"part-{i:03d}.parquet", index=False)
        else:
            piece.to_csv(folder / f"part-{i:03d}.csv", index=False)
    return folder


def flat(document, prefix: str = "") -> dict:
    if isinstance(document, dict):
        return {k: v for key, value in document.items() for k, v in flat(value, f"{prefix}.{key}").items()}
    if isinstance(document, list):
        return {k: v for i, value in enumerate(document) for k, v in flat(value, f"{prefix}[{i}]").items()}
    return {prefix: document}


def assert_same(a: dict, b: dict, skip: tuple[str, ...] = (".current", ".data", ".input", ".output")) -> None:
    fa, fb = flat(a), flat(b)
    assert set(fa) == set(fb)
    for key, value in fa.items():
        if key in skip:
            continue
        other = fb[key]
        if isinstance(value, float) and isinstance(other, float):
            assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12), (key, value, other)
        else:
            assert value == other, (key, value, other)


def test_a_sample_continued_across_parts_keeps_the_rows_of_one_pass():
    whole = RowSample(100, 1000, seed=7).take(1000)
    pieces = [RowSample(100, 1000, seed=7, skip=start).take(n) for start, n in ((0, 300), (300, 1), (301, 699))]
    assert np.array_equal(whole, np.concatenate(pieces))


def test_sources_list_parts_in_name_order_and_refuse_what_holds_none(tmp_path):
    folder = tmp_path / "in"
    (folder / "b").mkdir(parents=True)
    for name in ("b/2.parquet", "a.csv", "_SUCCESS", ".hidden.csv", "notes.txt.md", "c.csv.gz"):
        (folder / name).write_text("x")
    assert [Path(p.location).name for p in resolve(folder).parts] == ["a.csv", "2.parquet", "c.csv.gz"]
    assert [Path(p.location).name for p in resolve(str(folder / "*.csv*")).parts] == ["a.csv", "c.csv.gz"]
    assert resolve(folder / "a.csv").single
    with pytest.raises(DataError, match="no CSV or Parquet file matches"):
        resolve(str(tmp_path / "nothing-*.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no CSV or Parquet file"):
        resolve(tmp_path / "empty")


def test_drift_check_gives_the_same_answers_on_every_engine_and_partitioning(
    cli, artifacts, current, tmp_path, cluster
):
    config = tmp_path / "small-sample.toml"
    config.write_text(SMALL_SAMPLE)
    parts8 = write_parts(current, tmp_path / "p8", 8)
    parts3 = write_parts(current, tmp_path / "p3", 3)
    base = ["--config", config, "--artifacts", artifacts, "drift-check", "--format", "json", "--current"]
    runs = {
        "local 8": cli(*base, parts8),
        "dask 8": cli(*base, parts8, "--engine", "dask", "--scheduler", cluster.scheduler_address),
        "local 3": cli(*base, parts3),
        "dask 3": cli(*base, parts3, "--engine", "dask", "--scheduler", cluster.scheduler_address),
    }
    for name, run in runs.items():
        assert run.code == 1, (name, run.stderr)  # drift: Age and Geography
    reports = {name: run.json() for name, run in runs.items()}
    first = reports["local 8"]
    assert first["prediction_drift"]["n_scored"] < first["n_current"]  # the sample is in play
    assert first["performance"]["n_labelled"] > 0  # labels travel with the parts too
    for report in reports.values():
        assert_same(first, report)
    events = [json.loads(line) for line in (artifacts / "events.jsonl").read_text().splitlines()]
    checks = [e for e in events if e["event"] == "drift_checked"]
    assert [e["engine"] for e in checks] == ["local", "dask", "local", "dask"]


def test_predict_on_dask_writes_one_file_per_part_equal_to_the_local_output(cli, artifacts, current, tmp_path, cluster):
    parts = write_parts(current.drop(columns="Exited"), tmp_path / "parts", 5)
    dask = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
    run = cli("--artifacts", artifacts, "predict", "--input", parts, "--output", tmp_path / "out", *dask)
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"part-{i:05d}.parquet" for i in range(5)]
    assert cli("--artifacts", artifacts, "predict", "--input", parts, "--output", tmp_path / "local.parquet").code == 0
    distributed = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "out").iterdir())], ignore_index=True)
    pd.testing.assert_frame_equal(distributed, pd.read_parquet(tmp_path / "local.parquet"))
    again = cli("--artifacts", artifacts, "predict", "--input", parts, "--output", tmp_path / "out", *dask)
    assert again.code == 2 and "new or empty folder" in again.stderr


def test_a_bad_part_stops_the_run_with_its_message_and_publishes_nothing(cli, artifacts, current, tmp_path, cluster):
    parts = write_parts(current.drop(columns="Exited"), tmp_path / "parts", 4, kind="csv")
    bad = parts / "part-002.csv"
    lines = bad.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index("Age")] = "forty"
    lines[5] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    dask = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
    run = cli("--artifacts", artifacts, "predict", "--input", parts, "--output", out, *dask)
    assert run.code == 3 and f"{bad}: column 'Age' expects numbers, found 'forty' in row 5" in run.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "staging" in p.name]
    local = cli("--artifacts", artifacts, "predict", "--input", parts, "--output", tmp_path / "local.csv")
    assert local.code == 3 and f"{bad}: column 'Age' expects numbers, found 'forty' in row 5" in local.stderr


def test_evaluate_on_dask_equals_the_local_engine(cli, artifacts, current, tmp_path, cluster):
    parts = write_parts(current, tmp_path / "parts", 6, kind="csv")
    local = cli("--artifacts", artifacts, "evaluate", "--data", parts, "--format", "json")
    dask = cli(
        "--artifacts", artifacts, "evaluate", "--data", str(parts / "*.csv"), "--format", "json",
        "--engine", "dask", "--scheduler", cluster.scheduler_address,
    )  # fmt: skip
    assert local.code == dask.code == 0, dask.stderr
    assert_same(local.json(), dask.json())
    assert "without a label were left out" in local.stderr


def test_the_workers_never_write_into_the_artifacts_directory(cli, artifacts, current, tmp_path, cluster):
    parts = write_parts(current, tmp_path / "parts", 4)

    def snapshot() -> dict[str, float]:
        """Everything but what the client itself adds: the event log and the drift history."""
        return {
            str(p): p.stat().st_mtime
            for p in artifacts.rglob("*")
            if p.name != "events.jsonl" and "history" not in p.relative_to(artifacts).parts
        }

    before = snapshot()
    dask = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
    assert cli("--artifacts", artifacts, "drift-check", "--current", parts, *dask).code == 1
    assert cli("--artifacts", artifacts, "evaluate", "--data", parts, *dask).code == 0
    assert snapshot() == before
    assert len(list((artifacts / "history").rglob("*.json"))) == 1  # the client kept the check's result


def test_an_unreachable_scheduler_is_exit_2_naming_it(cli, artifacts, sim_csv, monkeypatch):
    import socket

    monkeypatch.setattr("churnctl.runtime.cluster.CONNECT_SECONDS", 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    run = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv, "--engine", "dask", "--scheduler", address)
    assert run.code == 2 and f"cannot reach the Dask scheduler at {address}" in run.stderr


def test_engine_options_are_checked(cli, artifacts, sim_csv, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    run = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv, "--engine", "dask")
    assert run.code == 2 and "pip install 'churnctl[dask]'" in run.stderr
    run = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv, "--scheduler", "tcp://x:1")
    assert run.code == 2 and "--scheduler goes with --engine dask" in run.stderr
    run = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv, "--engine", "spark")
    assert run.code == 2 and "spark" in run.stderr and "local" in run.stderr
    run = cli("--artifacts", artifacts, "predict", "--input", sim_csv, "--engine", "dask")
    assert run.code == 2 and "--output FOLDER" in run.stderr


def _kill_a_worker_once_busy(cluster, client) -> threading.Thread:
    """SIGKILL one worker process as soon as the scheduler has a task of this run processing."""
    pids = client.run(os.getpid)

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [t for t in list(cluster.scheduler.tasks.values()) if t.state == "processing" and t.processing_on]
            if busy:
                os.kill(pids[busy[0].processing_on.address], signal.SIGKILL)
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_answers_do_not_change(cli, artifacts, current, tmp_path):
    from distributed import Client, LocalCluster

    parts = write_parts(pd.concat([current] * 4, ignore_index=True), tmp_path / "parts", 24, kind="csv")
    base = ["--artifacts", artifacts, "drift-check", "--format", "json", "--current", parts]
    local = cli(*base)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50) as cluster,
        Client(cluster) as client,
    ):
        killer = _kill_a_worker_once_busy(cluster, client)
        run = cli(*base, "--engine", "dask", "--scheduler", cluster.scheduler_address)
        killer.join()
    assert local.code == run.code == 1, run.stderr
    assert_same(local.json(), run.json())


@pytest.mark.slow
def test_a_worker_lost_beyond_the_retries_is_exit_5_and_nothing_is_published(cli, artifacts, current, tmp_path):
    import dask
    from distributed import Client, LocalCluster

    parts = write_parts(pd.concat([current] * 4, ignore_index=True), tmp_path / "parts", 24, kind="csv")
    out = tmp_path / "out"
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50) as cluster,
        Client(cluster) as client,
    ):
        killer = _kill_a_worker_once_busy(cluster, client)
        run = cli(
            "--artifacts", artifacts, "predict", "--input", parts, "--output", out,
            "--engine", "dask", "--scheduler", cluster.scheduler_address,
        )  # fmt: skip
        killer.join()
    assert run.code == 5 and "workers died" in run.stderr and "nothing was published" in run.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_relative_paths_header_only_parts_and_worker_warnings(cli, artifacts, current, tmp_path, cluster, monkeypatch):
    frame = current.drop(columns="Exited").copy()
    frame.loc[frame.index[7], "Balance"] = math.inf
    parts = write_parts(frame, tmp_path / "parts", 3)
    frame.iloc[:0].to_parquet(parts / "part-001b.parquet", index=False)  # a part with no rows
    monkeypatch.chdir(tmp_path)  # relative paths, resolved by the client for the workers
    dask = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
    run = cli("--artifacts", artifacts, "predict", "--input", "parts", "--output", "out", *dask)
    assert run.code == 0, run.stderr
    assert "infinite value(s) read as missing" in run.stderr  # logged on a worker, shown here
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 4 and len(pd.read_parquet(files[2])) == 0  # part-001b: a valid file without rows
    assert list(pd.read_parquet(files[2]).columns) == list(pd.read_parquet(files[0]).columns)
    local = cli("--artifacts", artifacts, "predict", "--input", "parts", "--output", "local.parquet")
    together = pd.concat([pd.read_parquet(f) for f in files if len(pd.read_parquet(f))], ignore_index=True)
    assert local.code == 0 and together.equals(pd.read_parquet(tmp_path / "local.parquet"))


def test_parts_with_other_identifier_columns_are_refused(cli, artifacts, current, tmp_path):
    parts = write_parts(current.drop(columns="Exited"), tmp_path / "parts", 2, kind="csv")
    second = pd.read_csv(parts / "part-001.csv").drop(columns="CustomerId")
    second.to_csv(parts / "part-001.csv", index=False)
    run = cli("--artifacts", artifacts, "predict", "--input", parts, "--output", tmp_path / "s.csv")
    assert run.code == 3 and "lacks the identifier column(s) 'CustomerId'" in run.stderr
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("address", ["foo", "http://127.0.0.1:8786", "tcp://host"])
def test_a_malformed_scheduler_address_is_refused_at_once(cli, artifacts, sim_csv, address):
    started = time.monotonic()
    run = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv, "--engine", "dask", "--scheduler", address)
    assert run.code == 2 and "is not a Dask scheduler address" in run.stderr and time.monotonic() - started < 5


@pytest.mark.slow
def test_a_scheduler_that_goes_away_is_exit_5_and_nothing_is_published(cli, artifacts, current, tmp_path):
    from distributed import LocalCluster

    parts = write_parts(pd.concat([current] * 4, ignore_index=True), tmp_path / "parts", 24, kind="csv")
    out = tmp_path / "out"
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50)

    def close_when_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            t.state == "processing" for t in list(cluster.scheduler.tasks.values())
        ):
            time.sleep(0.005)
        cluster.close()

    closer = threading.Thread(target=close_when_busy, daemon=True)
    closer.start()
    run = cli(
        "--artifacts", artifacts, "predict", "--input", parts, "--output", out,
        "--engine", "dask", "--scheduler", cluster.scheduler_address,
    )  # fmt: skip
    closer.join()
    assert run.code == 5 and "lost the Dask cluster" in run.stderr, run.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_urls_are_read_through_fsspec_like_local_files(cli, artifacts, current, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    config = tmp_path / "small-sample.toml"
    config.write_text(SMALL_SAMPLE)
    parts = write_parts(current, tmp_path / "parts", 3)
    memory = fsspec.filesystem("memory")
    for part in sorted(parts.iterdir()):
        memory.pipe(f"/churn-test/{part.name}", part.read_bytes())
    base = ["--config", config, "--artifacts", artifacts, "drift-check", "--format", "json", "--current"]
    local, remote = cli(*base, parts), cli(*base, "memory://churn-test/")
    assert local.code == remote.code == 1, remote.stderr
    assert_same(local.json(), remote.json())  # the sample too: Parquet row counts from the metadata at the URL
    globbed = cli(
        "--artifacts", artifacts, "evaluate", "--format", "json", "--data", "memory://churn-test/part-00*.parquet"
    )
    assert globbed.code == 0 and globbed.json()["n_rows"] == current["Exited"].notna().sum()
    missing = cli(*base, "memory://no-such-bucket/")
    assert missing.code == 3 and "memory://no-such-bucket/" in missing.stderr
