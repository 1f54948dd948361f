"""Benchmarks (``make bench``): speed and memory as ratios against a floor measured in the same run.

* Batch scoring streams the file in chunks: its peak memory must not grow with the file (at most
  1.25x for 4x the rows), while merely loading the file with pandas, measured beside it, grows with
  the file. Throughput is reported in rows per second.
* Training time with model selection on the real bank data, when it is present.
* drift-check by simulation, larger than the test suite's: false-alarm rate on no-drift batches of
  1,000 and 100,000 rows and one of 1,000,000 rows, and detection rate at 10,000 rows for each
  drift the issue names, with the default (auto-selected) model; plus the time and peak memory of
  ``churnctl drift-check`` on a 1,000,000-row file.

Run: ``make bench`` (``BENCH_ROWS`` sets the batch size, default 1,000,000; ``BENCH_BATCHES`` the
number of simulated batches per drift case, default 200).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One compute thread per process, as the churnctl command sets for itself: the suite and the
# benchmarks start churnctl processes beside their own work on a 2-core machine, and competing
# OpenMP thread pools slow everything down many times over.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

ROOT = Path(__file__).resolve().parent.parent
BANK = ROOT.parent / "shared" / "data" / "bank_churn" / "Churn_Modelling.csv"
CHURNCTL = [sys.executable, "-m", "churnctl"]


def measure(cmd: list[str], env=None, ok=(0,)) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of a child process."""
    wrapper = (
        "import resource, subprocess, sys, time, json; t = time.perf_counter(); "
        "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(json.dumps([rc, time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    rc, seconds, rss = json.loads(out.stdout.strip().splitlines()[-1])
    if rc not in ok:
        raise SystemExit(f"benchmark command failed ({rc}): {' '.join(cmd)}")
    return seconds, rss


def main() -> int:
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "CHURNCTL_ARTIFACTS": str(tmp / "artifacts")}
        train_csv = tmp / "train.csv"
        quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
        subprocess.run([*CHURNCTL, "-q", "simulate", "--rows", "20000", "--seed", "1", "-o", str(train_csv)], **quiet)
        subprocess.run([*CHURNCTL, "-q", "ingest", str(train_csv), "--target", "Exited"], **quiet)
        subprocess.run([*CHURNCTL, "-q", "train", "--model", "hgb"], **quiet)
        print(
            "batch scoring (churnctl predict --input FILE --output scored.parquet) against pandas.read_csv of "
            "the same file:"
        )
        peaks = {}
        for n in (rows // 4, rows):
            batch_csv = tmp / f"batch{n}.csv"
            subprocess.run(
                [*CHURNCTL, "-q", "simulate", "--rows", str(n), "--seed", "2", "-o", str(batch_csv)], **quiet
            )
            size_mib = batch_csv.stat().st_size / 2**20
            floor_s, floor_rss = measure(
                [sys.executable, "-c", f"import pandas as pd; pd.read_csv({str(batch_csv)!r})"]
            )
            score_s, score_rss = measure(
                [*CHURNCTL, "-q", "predict", "--input", str(batch_csv), "--output", str(tmp / "scored.parquet")],
                env=env,
            )
            peaks[n] = (score_rss, floor_rss)
            print(
                f"  {n:>9,} rows ({size_mib:4.0f} MiB): read_csv {floor_s:5.1f} s / {floor_rss:5.0f} MiB;"
                f" predict {score_s:5.1f} s / {score_rss:5.0f} MiB; {n / score_s:,.0f} rows/s"
            )
        small, large = peaks[rows // 4], peaks[rows]
        growth, floor_growth = large[0] / small[0], large[1] / small[1]
        print(f"  peak memory growth for 4x the rows: predict {growth:.2f}x, read_csv {floor_growth:.2f}x")
        if growth > 1.25:
            failures.append(f"streaming predict memory grew {growth:.2f}x for 4x the rows (target <= 1.25x)")

        if BANK.exists():
            bank_env = {**os.environ, "CHURNCTL_ARTIFACTS": str(tmp / "bank")}
            subprocess.run(
                [*CHURNCTL, "-q", "ingest", str(BANK), "--target", "Exited", "--seed", "1"],
                check=True,
                env=bank_env,
                stdout=subprocess.DEVNULL,
            )
            started = time.perf_counter()
            out = subprocess.run(
                [*CHURNCTL, "-q", "train", "--format", "json"], check=True, env=bank_env, capture_output=True, text=True
            )
            doc = json.loads(out.stdout)
            print(
                f"train --model auto on the bank data (8,000 rows, {len(doc['candidates'])} candidates x "
                f"5 folds): {time.perf_counter() - started:.1f} s, CV ROC-AUC {doc['cv_roc_auc']:.4f}, "
                f"test ROC-AUC {doc['test_metrics']['roc_auc']:.4f}"
            )
        else:
            print(f"bank data not found at {BANK}: training benchmark skipped")
        drift_benchmark(tmp, rows, failures)
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


def drift_benchmark(tmp: Path, rows: int, failures: list[str]) -> None:
    import numpy as np

    from churnctl.config import DriftSettings, Settings
    from churnctl.drift.monitor import DriftMonitor
    from churnctl.drift.profile import ReferenceProfile
    from churnctl.lifecycle.ingest import ingest
    from churnctl.lifecycle.train import train
    from churnctl.registry import Registry
    from churnctl.registry.artifacts import load_model
    from churnctl.synthetic import Drift, simulate_customers

    batches = int(os.environ.get("BENCH_BATCHES", "200"))
    reference = tmp / "drift_reference.csv"
    simulate_customers(10_000, seed=100).to_csv(reference, index=False)
    registry = Registry(tmp / "drift_artifacts")
    ingest(registry, str(reference), Settings(), target="Exited")
    train(registry, Settings())
    model = load_model(registry)
    profile = ReferenceProfile.for_model(registry, model)

    def check(frame):
        monitor = DriftMonitor(model, profile, DriftSettings(), importance=model.manifest["feature_importance"])
        for start in range(0, len(frame), 100_000):
            monitor.update(frame.iloc[start : start + 100_000])
        return monitor.report()

    print(f"drift-check by simulation (model {model.manifest['estimator']}, {batches} batches per case):")
    for n, count in ((1_000, batches), (100_000, max(batches // 2, 100))):
        rate = np.mean([check(simulate_customers(n, seed=10_000 + i)).drift_detected for i in range(count)])
        print(f"  false alarms, no drift, {n:>7,} rows: {rate:6.1%} of {count} batches")
        if rate > 0.05:
            failures.append(f"false-alarm rate {rate:.1%} at {n} rows")
    report = check(simulate_customers(1_000_000, seed=777))
    print(f"  no drift, 1,000,000 rows: {'DRIFT (false alarm)' if report.drift_detected else 'no drift'}")
    if report.drift_detected:
        failures.append("false alarm at 1,000,000 rows")
    cases = {
        "numeric mean shift 0.25 sd (CreditScore)": (Drift(shift_sd={"CreditScore": 0.25}), "CreditScore"),
        "numeric mean shift 0.25 sd (Age)": (Drift(shift_sd={"Age": 0.25}), "Age"),
        "Germany share +15 points": (Drift(mix={"Geography": {"Germany": 0.40}}), "Geography"),
        "new category in 5% of rows": (Drift(new_category={"Geography": ("Italy", 0.05)}), "Geography"),
        "10% missing values (Tenure)": (Drift(missing={"Tenure": 0.10}), "Tenure"),
        "changed churn mechanism, labels": (Drift(concept=1.0), "performance"),
    }
    for name, (drift, feature) in cases.items():
        hits = 0
        for i in range(batches):
            r = check(simulate_customers(10_000, seed=20_000 + i, drift=drift))
            named = r.performance.drift if feature == "performance" else feature in r.drifted_features
            hits += r.drift_detected and named
        print(f"  detected at 10,000 rows, {name:<42}: {hits / batches:6.1%}")
        if hits < 0.95 * batches:
            failures.append(f"detection {hits}/{batches} for {name}")

    big = tmp / "drift_big.csv"
    simulate_customers(rows, seed=4, drift=Drift(shift={"Age": 3})).to_csv(big, index=False)
    env = {**os.environ, "CHURNCTL_ARTIFACTS": str(registry.root)}
    seconds, rss = measure(
        [*CHURNCTL, "-q", "drift-check", "--current", str(big), "--format", "json"], env=env, ok=(0, 1)
    )
    print(
        f"  churnctl drift-check on {rows:,} rows ({big.stat().st_size / 2**20:.0f} MiB CSV): "
        f"{seconds:.1f} s, peak RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
