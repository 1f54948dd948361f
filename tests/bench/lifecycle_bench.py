"""The whole lifecycle on a folder of Parquet parts (operation ``lifecycle``): ingest, train, evaluate,
drift-check, predict and retrain, once each, at ``BENCH_LIFECYCLE_SIZES`` rows (default
1000000,5000000,20000000), on the local engine and, for the commands that take ``--engine`` (ingest,
drift-check, predict), on a running cluster of 2 single-threaded worker processes on this machine.

The training data are simulated bank customers, 1,000,000 rows per Parquet part (12 columns, unique
customer ids); the batch that drift-check, predict and retrain read is 1,000,000 drifted customers in 8
parts. For each command: wall time and the peak RSS of its process (the client's, for the cluster), and
on the cluster the largest RSS a worker's own monitor sampled during the command. The local and
cluster ingests must store the same dataset id, or the benchmark stops.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from tests.bench.cluster_bench import memory_mib, running_cluster, samples
from tests.bench.measure import BenchError, Command, log, measure
from tests.bench.report import seconds
from tests.bench.workspace import CURRENT_DRIFT, Workspace

PART_ROWS = 1_000_000
BATCH_ROWS = 1_000_000
DEFAULT_SIZES = "1000000,5000000,20000000"


def _simulated_parts(ws: Workspace, name: str, rows: int, seed: int, parts: int, *drift: str) -> Path:
    """``rows`` simulated customers as ``parts`` Parquet files (kept in BENCH_DIR for later runs)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = ws.data / name
    if folder.exists():
        return folder
    partial = folder.with_name(f"partial-{folder.name}")
    partial.mkdir(exist_ok=True)
    per_part = math.ceil(rows / parts)
    for i in range(parts):
        target = partial / f"part-{i:03d}.parquet"
        if target.exists():
            continue
        n = min(per_part, rows - i * per_part)
        source = ws.simulate(f"{name}-piece-{i:03d}.parquet", n, seed + i, *drift)
        table = pq.read_table(source)
        ids = pa.array(np.arange(i * per_part, i * per_part + n) + 10_000_000)  # unique across parts
        pq.write_table(table.set_column(0, "CustomerId", ids), target)
        source.unlink()
    partial.rename(folder)
    return folder


def lifecycle_benchmark(ws: Workspace) -> list[str]:
    sizes = sorted(int(s) for s in os.environ.get("BENCH_LIFECYCLE_SIZES", DEFAULT_SIZES).split(","))
    batch = _simulated_parts(ws, "lifecycle-batch", BATCH_ROWS, 900, 8, *CURRENT_DRIFT)
    lines = [
        "The lifecycle on simulated bank customers in Parquet parts of 1,000,000 rows (12 columns); drift-check, "
        f"predict and retrain on a drifted batch of {BATCH_ROWS:,} rows in 8 parts; one run each, a whole process.",
        "",
        "| rows | command | local | peak RSS | dask (running cluster) | client RSS | worker peak RSS |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    with running_cluster() as (client, address):
        for rows in sizes:
            folder = _simulated_parts(ws, f"lifecycle-{rows}", rows, 100, math.ceil(rows / PART_ROWS))
            lines += _size(ws, client, address, rows, folder, batch)
    return lines


def _size(ws: Workspace, client, address: str, rows: int, folder: Path, batch: Path) -> list[str]:  # type: ignore[no-untyped-def]
    roots = {engine: ws.work / f"lifecycle-{rows}-{engine}" for engine in ("local", "dask")}
    steps = [
        ("ingest", ["ingest", str(folder), "--target", "Exited", "--format", "json"], True),
        ("train", ["train"], False),
        ("evaluate", ["evaluate"], False),
        ("drift-check", ["drift-check", "--current", str(batch)], True),
        ("predict --input", ["predict", "--input", str(batch), "--output", "{out}"], True),
        ("retrain", ["retrain", "--data", str(batch), "--force"], False),
    ]
    out, datasets = [], {}
    for name, args, on_cluster in steps:
        cells = {}
        for engine in roots:
            if engine == "dask" and not on_cluster:
                continue
            # each engine ingests into its own registry (the ids must agree); every later command runs on
            # the local registry, which holds the model
            root = roots[engine] if name == "ingest" else roots["local"]
            target = ws.work / (f"predictions-{rows}-{engine}" + ("" if engine == "dask" else ".parquet"))
            argv = [a.replace("{out}", str(target)) for a in args]
            if engine == "dask":
                argv += ["--engine", "dask", "--scheduler", address]
                marks = client.run(samples)
            if name == "ingest":
                argv = ["sh", "-c", f"exec {' '.join(ws.cli(root, *argv))} > {root}.ingest.json"]
            else:
                argv = ws.cli(root, *argv)
            sample = measure(Command(argv, ok=(0, 1)), ws.env, ws.work)
            worker = max(client.run(memory_mib, marks).values()) if engine == "dask" else None
            cells[engine] = (sample, worker)
            log(f"  lifecycle {rows:,}: {name} ({engine}) {sample.seconds:.1f} s, {sample.rss_mib:.0f} MiB")
            if name == "ingest":
                datasets[engine] = json.loads(Path(f"{root}.ingest.json").read_text())["dataset_id"]
        local, _ = cells["local"]
        dask = cells.get("dask")
        if dask is not None:
            sample, worker = dask
            cluster = f"{seconds(sample.seconds)} | {sample.rss_mib:,.0f} MiB | {worker:,.0f} MiB"
        else:
            cluster = "– | – | –"
        out.append(f"| {rows:,} | {name} | {seconds(local.seconds)} | {local.rss_mib:,.0f} MiB | {cluster} |")
    if datasets.get("local") != datasets.get("dask"):
        raise BenchError(f"lifecycle {rows:,}: local and dask ingests stored different datasets {datasets}")
    return out
