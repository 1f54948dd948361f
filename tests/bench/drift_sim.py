"""Optional part of ``make bench`` (``BENCH_DRIFT_SIM=1``): drift decisions by simulation, larger
than the test suite's. False alarms on no-drift batches of 1,000 and 100,000 rows and one of
1,000,000 rows, and the detection rate at 10,000 rows of each drift the issue names, with the
default (auto-selected) model. Runs in this process through the library (no timing involved)."""

from __future__ import annotations

from pathlib import Path

from tests.bench.measure import log
from tests.bench.report import Target

FALSE_ALARMS = 0.05  # at most this share of no-drift batches flagged
DETECTION = 0.95  # at least this share of drifted batches flagged, naming the right feature


def simulation(folder: Path, batches: int) -> list[str]:
    """The simulation's table (markdown lines); targets are marked met / short like the timings."""
    import numpy as np

    from churnctl.config import DriftSettings, Settings
    from churnctl.data.labelled import frame_labels
    from churnctl.lifecycle.drift_check import drift_monitor
    from churnctl.lifecycle.ingest import ingest
    from churnctl.lifecycle.train import train
    from churnctl.model.scorer import Scorer
    from churnctl.registry import Registry
    from churnctl.synthetic import Drift, simulate_customers

    folder.mkdir(parents=True, exist_ok=True)
    reference = folder / "reference.csv"
    simulate_customers(10_000, seed=100).to_csv(reference, index=False)
    registry = Registry(folder / "artifacts")
    ingest(registry, str(reference), Settings(), target="Exited")
    train(registry, Settings())
    model = Scorer.load(registry, Settings(), eager=True)

    def check(frame):
        monitor = drift_monitor(registry, model, DriftSettings())
        for start in range(0, len(frame), 100_000):
            batch = frame.iloc[start : start + 100_000]
            labels, labelled = frame_labels(batch, model.schema)
            monitor.update(batch, labels=labels, labelled=labelled)
        return monitor.report()

    lines = [
        f"Drift decisions by simulation (`churnctl simulate`; model {model.manifest['estimator']} trained on "
        f"10,000 simulated customers; `BENCH_DRIFT_SIM=1`):",
        "",
        "| case | batches | rows each | flagged | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]

    def add(case: str, count: int, rows: int, share: float, target: Target | str) -> None:
        verdict = target if isinstance(target, str) else target.verdict()
        lines.append(f"| {case} | {count} | {rows:,} | {share:.1%} | {verdict} |")
        log(f"  drift simulation: {case}, {rows:,} rows: {share:.1%} of {count}")

    for rows, count in ((1_000, batches), (100_000, max(batches // 2, 1))):
        share = float(np.mean([check(simulate_customers(rows, seed=10_000 + i)).drift_detected for i in range(count)]))
        add("no drift (false alarms)", count, rows, share, Target(f"≤ {FALSE_ALARMS:.0%}", share, FALSE_ALARMS))
    flagged = float(check(simulate_customers(1_000_000, seed=777)).drift_detected)
    add("no drift", 1, 1_000_000, flagged, "not flagged → " + ("short: flagged" if flagged else "met"))
    cases = {
        "CreditScore mean +0.25 SD": (Drift(shift_sd={"CreditScore": 0.25}), "CreditScore"),
        "Age mean +0.25 SD": (Drift(shift_sd={"Age": 0.25}), "Age"),
        "Germany share +15 points": (Drift(mix={"Geography": {"Germany": 0.40}}), "Geography"),
        "new Geography category in 5 % of rows": (Drift(new_category={"Geography": ("Italy", 0.05)}), "Geography"),
        "10 % missing values in Tenure": (Drift(missing={"Tenure": 0.10}), "Tenure"),
        "changed churn mechanism (labels present)": (Drift(concept=1.0), "performance"),
    }
    for name, (drift, feature) in cases.items():
        hits = 0
        for i in range(batches):
            report = check(simulate_customers(10_000, seed=20_000 + i, drift=drift))
            named = report.performance.drift if feature == "performance" else feature in report.drifted_features
            hits += bool(report.drift_detected and named)
        share = hits / batches
        add(
            f"{name}, naming {feature}",
            batches,
            10_000,
            share,
            Target(f"≥ {DETECTION:.0%}", share, DETECTION, at_least=True),
        )
    return lines
