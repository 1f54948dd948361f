"""Optional part of ``make bench`` (``BENCH_MODEL_QUALITY=1``) and of ``make test-slow``: the default
model search against plain library defaults on files of several shapes.

For each data set and split seed, the rows are split as ``churnctl ingest`` splits them (stratified,
20 % test), the default search (``--model auto``, seed 42) and the two plain baselines are fitted on
the training rows, and all are scored on the same test rows. The baselines are gradient boosting
with scikit-learn's default parameters (native categorical splits) and logistic regression with
its defaults (C = 1; standardised numbers, one-hot categories). Runs in this process through the
library (no timing involved)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.bench.measure import log

BANK_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "bank_churn" / "Churn_Modelling.csv"
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

    @property
    def best_plain(self) -> float:
        return max(float(np.mean(self.plain_hgb)), float(np.mean(self.plain_logreg)))

    @property
    def margin(self) -> float:
        return float(np.mean(self.ours)) - self.best_plain


def compare(name: str, frame, target: str, seeds: tuple[int, ...] = SEEDS) -> Comparison:
    from sklearn.metrics import roc_auc_score

    from churnctl.contract.frames import prepare_features
    from churnctl.contract.inference import infer_schema
    from churnctl.data.datasets import stratified_split
    from churnctl.model.estimators import build_pipeline
    from churnctl.model.search import select_and_fit

    inferred = infer_schema(frame, target, None)
    schema = inferred.schema
    labels = inferred.frame[schema.target].to_numpy().astype(int)
    result = Comparison(name, len(frame), [], [], [], [])
    for seed in seeds:
        train, test = stratified_split(inferred.frame, labels, 0.2, seed, name)
        X, _ = prepare_features(train, schema)
        y = train[schema.target].to_numpy().astype(int)
        X_test, _ = prepare_features(test, schema)
        y_test = test[schema.target].to_numpy().astype(int)
        selection = select_and_fit(schema, X, y, seed=42)
        result.ours.append(float(roc_auc_score(y_test, selection.pipeline.predict_proba(X_test)[:, 1])))
        result.chosen.append(selection.chosen.family)
        for family, params, scores in (("hgb", {}, result.plain_hgb), ("logreg", {"C": 1.0}, result.plain_logreg)):
            plain = build_pipeline(schema, family, params, 42).fit(X, y)
            scores.append(float(roc_auc_score(y_test, plain.predict_proba(X_test)[:, 1])))
        log(f"  model quality: {name}, split seed {seed}: ours {result.ours[-1]:.4f} ({result.chosen[-1]}), "
            f"plain hgb {result.plain_hgb[-1]:.4f}, plain logreg {result.plain_logreg[-1]:.4f}")  # fmt: skip
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
        "Model search against plain defaults: mean test ROC-AUC over split seeds "
        + ", ".join(map(str, SEEDS))
        + " (`BENCH_MODEL_QUALITY=1`; the same rows for all three):",
        "",
        "| data | default search | chosen | plain gradient boosting | plain logistic regression | margin |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {np.mean(r.ours):.4f} | {', '.join(r.chosen)} | {np.mean(r.plain_hgb):.4f} | "
            f"{np.mean(r.plain_logreg):.4f} | {r.margin:+.4f} |"
        )
    return lines


def model_quality() -> list[str]:
    return table([compare(name, frame, target) for name, frame, target in data_sets()])
