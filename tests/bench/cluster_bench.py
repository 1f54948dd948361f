"""The Dask engine in ``make bench`` (operation ``dask``): the same commands on the local engine and on
a Dask cluster on this machine, their answers compared, the engine's overhead and the workers' memory.

Per size and partition count (``BENCH_PARTITIONS``, default 8,64): the drifted current file as that
many Parquet files; ``drift-check --current DIR`` and ``predict --input DIR`` with the local engine,
with ``--engine dask`` and no address (a local cluster started by the command: what a user without a
cluster pays), and with ``--scheduler`` pointing at a running cluster (2 single-threaded worker
processes, started and warmed up once by the benchmark: the cost of the engine itself). The drift
reports must agree to 1e-9 and the predictions be equal, or the benchmark stops. The workers' memory
is the largest RSS their own monitors sampled (every 0.5 s) during the runs on the running cluster.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.bench.measure import BenchError, Command, Series, log
from tests.bench.report import seconds
from tests.bench.workspace import Workspace

MODEL_ROWS = 100_000  # the model is trained once, on a reference of this size


@contextlib.contextmanager
def running_cluster() -> Iterator[tuple[Any, str]]:
    """A running cluster of 2 single-threaded worker processes on this machine, warmed up: (its client,
    the scheduler's address)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50) as cl,
        Client(cl) as client,
    ):
        client.run(_warm_up)
        yield client, cl.scheduler_address


def _warm_up() -> None:
    """Import what the tasks import, so that a measured run does not pay the workers' start-up."""
    import churnctl.drift.partial
    import churnctl.lifecycle.evaluate
    import churnctl.lifecycle.predict_batch  # noqa: F401


def samples(dask_worker) -> int:  # type: ignore[no-untyped-def]
    """How many samples the worker's own monitor has taken so far."""
    return int(dask_worker.monitor.count)


def memory_mib(since: dict[str, int], dask_worker=None) -> float:  # type: ignore[no-untyped-def]
    """The largest RSS the worker's monitor sampled (every 0.5 s) after its ``since[address]``-th sample."""
    monitor = dask_worker.monitor
    new = min(monitor.count - since.get(dask_worker.address, 0), len(monitor.quantities["memory"]))
    recent = list(monitor.quantities["memory"])[-new:] if new > 0 else [monitor.quantities["memory"][-1]]
    return max(recent) / 2**20


def _flat(document, prefix: str = "") -> dict:  # type: ignore[no-untyped-def]
    if isinstance(document, dict):
        return {k: v for key, value in document.items() for k, v in _flat(value, f"{prefix}.{key}").items()}
    if isinstance(document, list):
        return {k: v for i, value in enumerate(document) for k, v in _flat(value, f"{prefix}[{i}]").items()}
    return {prefix: document}


def _same_reports(a: dict, b: dict) -> bool:
    fa, fb = _flat(a), _flat(b)
    if set(fa) != set(fb):
        return False
    for key, value in fa.items():
        other = fb[key]
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif value != other:
            return False
    return True


def _partitioned(ws: Workspace, rows: int, parts: int) -> Path:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder = ws.data / f"current-{rows}-{parts}parts"
    if not folder.exists():
        table = pacsv.read_csv(str(ws.current(rows)))
        partial = folder.with_name(f"partial-{folder.name}")
        partial.mkdir()
        step = math.ceil(table.num_rows / parts)
        for i in range(parts):
            pq.write_table(table.slice(i * step, step), partial / f"part-{i:03d}.parquet")
        partial.rename(folder)
    return folder


def cluster_benchmark(ws: Workspace, sizes: list[int], repeats: int) -> list[str]:
    partitions = [int(p) for p in os.environ.get("BENCH_PARTITIONS", "8,64").split(",")]
    artifacts = ws.ingest("dask-model", ws.reference(MODEL_ROWS))
    version = ws.train(artifacts)
    lines = [
        f"`--engine dask` against the local engine: drift-check and predict --input on the drifted current file split "
        f"into Parquet parts; model {version} trained on {MODEL_ROWS:,} reference rows; median of {repeats} run(s), "
        "each a whole process.",
        "",
        "| command | rows | parts | local s | dask, own cluster s | dask, running cluster s | dask / local "
        "(running) | answers | worker peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    with running_cluster() as (client, address):
        for rows in sizes:
            for parts in partitions:
                folder = _partitioned(ws, rows, parts)
                for command in ("drift-check", "predict"):
                    lines.append(_row(ws, artifacts.root, client, address, command, folder, (rows, parts), repeats))
    return lines


def _row(  # type: ignore[no-untyped-def]
    ws: Workspace, root: Path, client, address: str, command: str, folder: Path, shape: tuple[int, int], repeats: int
) -> str:
    """One command on one partitioning (``shape``: rows, parts), every engine ``repeats`` times; its table row."""
    rows, parts = shape
    from tests.bench.measure import measure

    series: dict[str, Series] = {"local": Series(), "own": Series(), "running": Series()}
    outputs: dict[str, Path] = {}
    worker_rss = 0.0
    for round_ in range(repeats):
        for engine, runs in series.items():
            out = ws.work / f"{command}-{engine}-{rows}-{parts}-{round_}"
            argv = ws.cli(root, *_args(command, folder, out, engine, address))
            if command == "drift-check":  # the report, to compare engines
                argv = ["sh", "-c", f"{shlex.join(argv)} > {shlex.quote(str(out))}.json"]
            if engine == "running":
                marks = client.run(samples)  # each worker's memory during this run alone
            sample = measure(Command(argv, ok=(0, 1)), ws.env, ws.work)
            runs.samples.append(sample)
            if engine == "running":
                worker_rss = max(worker_rss, *client.run(memory_mib, marks).values())
            outputs[engine] = out
            log(f"  {command} {rows:,} rows / {parts} parts, {engine}: {sample.seconds:.2f} s")
    if not _compare(command, outputs):
        raise BenchError(f"{command} on {rows:,} rows / {parts} parts: the dask and local answers differ")
    local, own, running = series["local"], series["own"], series["running"]
    return (
        f"| {command} | {rows:,} | {parts} | {seconds(local.median)} | {seconds(own.median)} | "
        f"{seconds(running.median)} | {running.median / local.median:.2f}× | identical | {worker_rss:.0f} MiB |"
    )


def _args(command: str, folder: Path, out: Path, engine: str, address: str) -> list[str]:
    dask = [] if engine == "local" else ["--engine", "dask"] + (["--scheduler", address] if engine == "running" else [])
    if command == "drift-check":
        return ["drift-check", "--current", str(folder), "--format", "json", *dask]
    target = str(out) + (".parquet" if engine == "local" else "")
    return ["predict", "--input", str(folder), "--output", target, *dask]


def _compare(command: str, outputs: dict[str, Path]) -> bool:
    import pandas as pd

    if command == "drift-check":
        reports = [json.loads(Path(f"{out}.json").read_text()) for out in outputs.values()]
        return all(_same_reports(reports[0], report) for report in reports[1:])
    local = pd.read_parquet(str(outputs["local"]) + ".parquet")
    for engine in ("own", "running"):
        files = sorted(Path(outputs[engine]).glob("*.parquet"))
        if not pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).equals(local):
            return False
    return True
