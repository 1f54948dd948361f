"""Optional part of ``make bench`` (``BENCH_MODEL_QUALITY=1``) and of ``make test-slow``: churnctl against
plain library defaults on files of several shapes, paired on the same rows.

For each data set and split seed, the file is ingested and trained as a user would (``churnctl
ingest --seed S``, then ``churnctl train`` with the defaults: the leak, identifier and duplicate
guards, the model search, calibration and threshold), into a fresh registry; the two plain baselines
are fitted on the training split churnctl stored and scored on its test split. The baselines are
gradient boosting with scikit-learn's default parameters (native categorical splits) and logistic
regression with its defaults (C = 1; standardised numbers, one-hot categories). churnctl's test
ROC-AUC and its expected calibration error are those its manifest records. Runs in this process
through the library (no timing involved)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.bench.measure import log

BANK_CSV = Path(
    os.environ.get("CHURNCTL_BANK_CSV")
    or Path(__file__).resolve().parents[3] / "shared" / "data" / "bank_churn" / "Churn_Modelling.csv"
)
PROFILES = {"telco": 7_000, "usage": 5_000}  # simulated rows, about the size of the public files
SEEDS = (1, 2, 3)


@dataclass
class Comparison:
    name: str
    rows: int
    ours: list[float]  # test ROC-AUC per split seed
    plain_hgb: list[float]
    plain_logreg: list[float]
    chosen: list[str]  # the estimator the search chose per split seed
    ece: list[float]  # churnctl's expected calibration error on the test split, per split seed
    test_rows: int = 0

    @property
    def best_plain(self) -> float:
        return max(float(np.mean(self.plain_hgb)), float(np.mean(self.plain_logreg)))

    @property
    def margin(self) -> float:
        return float(np.mean(self.ours)) - self.best_plain


def compare(name: str, frame, target: str, seeds: tuple[int, ...] = SEEDS) -> Comparison:
    import tempfile

    from sklearn.metrics import roc_auc_score

    from churnctl.config import Settings
    from churnctl.contract.frames import prepare_features
    from churnctl.data.datasets import load_dataset
    from churnctl.lifecycle.ingest import ingest
    from churnctl.lifecycle.train import train
    from churnctl.model.estimators import build_pipeline
    from churnctl.registry import Registry

    result = Comparison(name, len(frame), [], [], [], [], [])
    with tempfile.TemporaryDirectory(prefix="churnctl-quality-") as folder:
        source = Path(folder) / "data.csv"
        frame.to_csv(source, index=False)
        for seed in seeds:
            registry = Registry(Path(folder) / f"seed{seed}")
            ingested = ingest(registry, str(source), Settings(), target=target, seed=seed)
            trained = train(registry, Settings())
            schema, train_rows, test_rows = load_dataset(registry, ingested.dataset_id)
            X, _ = prepare_features(train_rows, schema)
            y = train_rows[schema.target].to_numpy().astype(int)
            X_test, _ = prepare_features(test_rows, schema)
            y_test = test_rows[schema.target].to_numpy().astype(int)
            result.ours.append(float(trained.test_metrics["roc_auc"]))
            result.ece.append(float(trained.test_metrics["ece"]))
            result.chosen.append(trained.estimator)
            result.test_rows = len(y_test)
            for family, params, scores in (("hgb", {}, result.plain_hgb), ("logreg", {"C": 1.0}, result.plain_logreg)):
                plain = build_pipeline(schema, family, params, 42).fit(X, y)
                scores.append(float(roc_auc_score(y_test, plain.predict_proba(X_test)[:, 1])))
            log(f"  model quality: {name}, split seed {seed}: ours {result.ours[-1]:.4f} ({result.chosen[-1]}, "
                f"ECE {result.ece[-1]:.4f}), plain hgb {result.plain_hgb[-1]:.4f}, "
                f"plain logreg {result.plain_logreg[-1]:.4f}")  # fmt: skip
    return result


def data_sets() -> list[tuple[str, object, str]]:
    """(name, frame, target) of the real bank data (when ../shared is there) and the simulated profiles."""
    import pandas as pd

    from churnctl.synthetic import PROFILES as SIMULATED
    from churnctl.synthetic import simulate_customers

    sets = []
    if BANK_CSV.exists():
        sets.append(("bank (real, 10,000 rows)", pd.read_csv(BANK_CSV), "Exited"))
    for profile, rows in PROFILES.items():
        frame = simulate_customers(rows, seed=11, profile_name=profile)
        sets.append((f"{profile} (simulated, {rows:,} rows)", frame, SIMULATED[profile].target))
    return sets


def table(results: list[Comparison]) -> list[str]:
    lines = [
        "churnctl (ingest + train, defaults) against plain defaults on churnctl's own splits: mean test "
        "ROC-AUC over split seeds " + ", ".join(map(str, SEEDS)) + " (`BENCH_MODEL_QUALITY=1`; the same rows "
        "for all three; the paired difference per seed against plain gradient boosting):",
        "",
        "| data | test rows | churnctl | chosen | ECE | plain gradient boosting | paired differences | plain logistic "
        "regression |",
        "| --- | ---: | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        paired = ", ".join(f"{a - b:+.4f}" for a, b in zip(r.ours, r.plain_hgb, strict=True))
        lines.append(
            f"| {r.name} | {r.test_rows:,} | {np.mean(r.ours):.4f} | {', '.join(r.chosen)} | {np.mean(r.ece):.4f} | "
            f"{np.mean(r.plain_hgb):.4f} | {paired} | {np.mean(r.plain_logreg):.4f} |"
        )
    return lines


def model_quality() -> list[str]:
    return table([compare(name, frame, target) for name, frame, target in data_sets()])
