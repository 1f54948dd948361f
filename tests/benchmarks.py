"""Benchmarks (``make bench``): churnctl side by side with a floor and a peer, as whole processes.

For each operation and size it prints (and writes to ``BENCH_OUT``) one table row: our median time
with its range, the anchor's (the floor: the least work that does the same job, or the interpreter
start for cold-process commands), the peer's (Evidently's DataDriftPreset, for drift-check), the
ratios, our peak RSS, the time per row, and each target of the speed issue marked "met" or
"short: N×". A second table gives the growth from size to size. Every measurement is a separate
process timed by a small wrapper (wall time with ``time.perf_counter``, peak RSS with
``getrusage(RUSAGE_CHILDREN)``); ours and its anchors alternate within each round; the median of
``BENCH_REPEATS`` rounds is reported. Missed targets are reported, not failures: the exit status is
non-zero only when a command errs.

Settings (environment variables):

* ``BENCH_SIZES`` rows of the simulated reference and current files (default 100000,1000000,5000000)
* ``BENCH_REPEATS`` rounds per measurement (default 3)
* ``BENCH_OPS`` operations (default all but lifecycle): help, predict-json, drift-check, predict-input,
  train, train-wide, ingest, monitor, serve (the HTTP load test, :mod:`tests.bench.serve_bench`)
* ``lifecycle`` (an operation, asked for by name): ingest to retrain on folders of Parquet parts, local
  and on a running cluster (:mod:`tests.bench.lifecycle_bench`); ``BENCH_LIFECYCLE_SIZES`` its rows
  (default 1000000,5000000,20000000: about 30 minutes, 2.5 GB of disk in BENCH_DIR for the data and
  about as much for the run's artifacts)
* ``BENCH_SERVE_REQUESTS`` requests per round of the serve load test (default 5000)
* ``dask`` (an operation): the Dask engine against the local one (:mod:`tests.bench.cluster_bench`);
  ``BENCH_PARTITIONS`` the Parquet parts per size (default 8,64)
* ``BENCH_WIDE`` rows x columns of the wide file of train-wide (default 3000x2000);
  ``BENCH_WIDE_BUDGET`` its ``[train] time_budget`` in seconds (default 120)
* ``BENCH_DIR`` keep the simulated files here for later runs (default: a temporary folder)
* ``BENCH_OUT`` the results file (default ``bench-results.md`` in the project root)
* ``BENCH_PEER=0`` no peer; ``BENCH_PEER_VENV`` its venv (default ``.bench-venv``);
  ``BENCH_PEER_PACKAGES`` what pip installs there (default ``evidently pandas<3``: Evidently 0.7
  does not import with pandas 3); ``BENCH_PEER_TIMEOUT`` seconds for the install (default 1800)
* ``BENCH_DRIFT_SIM=1`` also the drift-decision simulation (long); ``BENCH_BATCHES`` its batches
  per case (default 200)
* ``BENCH_MODEL_QUALITY=1`` also the model search against plain defaults on the bank data and the
  simulated telco and usage files (test ROC-AUC over split seeds 1-3; about 6 minutes)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# One compute thread per process for ours, the floors and the peer alike, so that the ratios compare
# the work and not the threads (churnctl alone would take the idle cores: see churnctl/compute.py);
# set before numpy loads (the drift simulation runs in this process).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from tests.bench.measure import BenchError, log, machine  # noqa: E402
from tests.bench.operations import (  # noqa: E402
    DEFAULT_OPERATIONS,
    FLAT_MEMORY,
    OPERATIONS,
    Context,
    at_size,
    startup,
    train_wide,
)
from tests.bench.report import document  # noqa: E402
from tests.bench.workspace import ROOT, Peer, Workspace, bench_env, ensure_peer  # noqa: E402

DEFAULT_SIZES = "100000,1000000,5000000"


def settings() -> dict:
    try:
        sizes = sorted({int(s.replace("_", "")) for s in os.environ.get("BENCH_SIZES", DEFAULT_SIZES).split(",")})
        repeats = int(os.environ.get("BENCH_REPEATS", "3"))
        batches = int(os.environ.get("BENCH_BATCHES", "200"))
        timeout = float(os.environ.get("BENCH_PEER_TIMEOUT", "1800"))
        wide = tuple(int(n) for n in os.environ.get("BENCH_WIDE", "3000x2000").lower().split("x"))
        wide_budget = float(os.environ.get("BENCH_WIDE_BUDGET", "120"))
    except ValueError as exc:
        raise BenchError(
            "BENCH_SIZES, BENCH_REPEATS, BENCH_BATCHES, BENCH_PEER_TIMEOUT, BENCH_WIDE (ROWSxCOLUMNS) and "
            f"BENCH_WIDE_BUDGET take numbers: {exc}"
        ) from None
    if len(wide) != 2 or wide[0] < 100 or wide[1] < 30:
        raise BenchError("BENCH_WIDE must be ROWSxCOLUMNS, at least 100 rows and 30 columns")
    asked = os.environ.get("BENCH_OPS", ",".join(DEFAULT_OPERATIONS))
    operations = {o.strip() for o in asked.split(",") if o.strip()}
    unknown = operations - set(OPERATIONS)
    if unknown or not operations:
        raise BenchError(f"BENCH_OPS: unknown {sorted(unknown)}; choose from {', '.join(OPERATIONS)}")
    if min(sizes) < 1000 or repeats < 1:
        raise BenchError("BENCH_SIZES must be at least 1000 rows each and BENCH_REPEATS at least 1")
    return {
        "sizes": sizes,
        "repeats": repeats,
        "operations": operations,
        "batches": batches,
        "timeout": timeout,
        "out": Path(os.environ.get("BENCH_OUT") or ROOT / "bench-results.md"),
        "peer": os.environ.get("BENCH_PEER", "1") != "0",
        "peer_venv": Path(os.environ.get("BENCH_PEER_VENV") or ROOT / ".bench-venv"),
        "peer_packages": os.environ.get("BENCH_PEER_PACKAGES", "evidently pandas<3").split(),
        "drift_sim": os.environ.get("BENCH_DRIFT_SIM", "0") == "1",
        "model_quality": os.environ.get("BENCH_MODEL_QUALITY", "0") == "1",
        "wide": wide,
        "wide_budget": wide_budget,
    }


def run(config: dict, base: Path) -> str:
    started = time.perf_counter()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    about = machine(ROOT)
    env = bench_env()
    ws = Workspace(base, env)
    operations = config["operations"]
    peer = None
    if "drift-check" in operations and config["peer"]:
        peer = ensure_peer(config["peer_venv"], config["peer_packages"], config["timeout"])
    ctx = Context(ws, config["repeats"], peer, operations, sizes=config["sizes"])
    rows = []
    log(f"benchmark in {base}: sizes {config['sizes']}, {config['repeats']} round(s), {sorted(operations)}")
    if operations & {"help", "predict-json"}:
        rows += startup(ctx, ws.reference(config["sizes"][0]))
    if operations & {"drift-check", "predict-input", "train", "ingest", "monitor"}:
        for size in config["sizes"]:
            rows += at_size(ctx, size)
    if "train-wide" in operations:
        rows.append(train_wide(ctx, *config["wide"], config["wide_budget"]))
    extra = []
    if "serve" in operations:
        from tests.bench.serve_bench import serve_benchmark

        extra += serve_benchmark(ws, ws.reference(config["sizes"][0]), config["repeats"])
    if "dask" in operations:
        from tests.bench.cluster_bench import cluster_benchmark

        extra += ([""] if extra else []) + cluster_benchmark(ws, config["sizes"], config["repeats"])
    if "lifecycle" in operations:
        from tests.bench.lifecycle_bench import lifecycle_benchmark

        extra += ([""] if extra else []) + lifecycle_benchmark(ws)
    if config["drift_sim"]:
        from tests.bench.drift_sim import simulation

        os.environ["CHURNCTL_SIGNING_KEY"] = env["CHURNCTL_SIGNING_KEY"]
        extra += ([""] if extra else []) + simulation(ws.work / "drift-sim", config["batches"])
    if config["model_quality"]:
        from tests.bench.model_quality import model_quality

        extra += ([""] if extra else []) + model_quality()
    notes = notes_for(config, peer, ctx.notes, env)
    took = time.perf_counter() - started
    notes.append(f"This run took {took / 60:.1f} min" if took >= 60 else f"This run took {took:.0f} s")
    notes[-1] += ", preparation included."
    return document(f"make bench, {date}", about, rows, FLAT_MEMORY, notes, extra)


def notes_for(config: dict, peer: Peer | None, notes: list[str], env: dict[str, str]) -> list[str]:
    threads = ", ".join(f"{v}={env[v]}" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))
    out = [
        f"Times in seconds: median of {config['repeats']} run(s) (min–max); each a whole process, timed from "
        "start to exit by a wrapper process; peak RSS is the largest of the runs. Ours and the anchor (and the "
        "peer) alternate within each round.",
        f"Thread settings of every process, ours, floors and peer alike: {threads} (the same for all, so that ratios "
        "compare work, not threads; churnctl alone would take the idle cores); pyarrow's CSV reader uses "
        "its own thread pool, in churnctl and the floors.",
        "Anchors: `churnctl --help` against `python -c pass` (interpreter start); `predict --json` against "
        "`python -c 'import sklearn'`; drift-check against the SciPy floor: one process that reads both CSVs "
        "with pyarrow and runs `scipy.stats.ks_2samp` (asymptotic) per numeric feature and `chi2_contingency` "
        "per categorical or binary feature, as churnctl's schema has them; predict --input against one process: "
        "pyarrow read of the CSV, `predict_proba` of a default `HistGradientBoostingClassifier` (fitted beforehand "
        "on the training split, pickled; categories as their codes), pyarrow write of identifier and "
        "probability; train (auto, the default: cross-validated model selection) against one default "
        "`HistGradientBoostingClassifier` fit on the training split (the rows churnctl trains on, as CSV), pyarrow "
        "read included.",
        "Data: `churnctl simulate` reference files without drift and current files with "
        "`--shift Age=+3 --mix Geography=Germany:0.45`, of the size in the rows column; the reference is ingested "
        "and trained. Our commands: `churnctl drift-check --current CURRENT --format json` (exit 1: drift), "
        "`churnctl predict --input CURRENT --output scored.csv`, `churnctl train`. µs/row is our median over the "
        "rows of the file.",
        "Targets are the speed issue's, stated there for 1M (drift-check, train) and 5M rows; other sizes are "
        'shown against the same targets. "short: N×" is how many times faster (or smaller) ours would have to '
        'be. Growth: "linear" when the cost per row grows at most 1.25× from one size to the next.',
    ]
    if "drift-check" in config["operations"]:
        if peer is None:
            out.append("Peer: not run (BENCH_PEER=0).")
        elif peer.python is None:
            out.append(f"Peer: {peer.note}.")
        else:
            out.append(
                f"Peer: {peer.note}. It reads both CSVs with pandas and runs `Report([DataDriftPreset()])` with the "
                "features declared numeric or categorical as churnctl's schema has them; peer / ours is how many "
                "times faster ours is."
            )
    return out + notes


def main() -> int:
    try:
        config = settings()
        if os.environ.get("BENCH_DIR"):
            base = Path(os.environ["BENCH_DIR"]).resolve()
            base.mkdir(parents=True, exist_ok=True)
            text = run(config, base)
        else:
            with tempfile.TemporaryDirectory(prefix="churnctl-bench-") as folder:
                text = run(config, Path(folder))
    except BenchError as exc:
        print(f"make bench: {exc}", file=sys.stderr)
        return 2
    print(text)
    config["out"].write_text(text)
    log(f"written to {config['out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
