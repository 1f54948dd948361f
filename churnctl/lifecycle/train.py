"""train: select, fit and store a model version on a dataset version."""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn

import churnctl
from churnctl.config import Settings
from churnctl.contract.frames import prepare_features
from churnctl.data.datasets import describe_source, load_dataset, parquet_bytes
from churnctl.lifecycle.results import Result
from churnctl.model.calibration import choose_calibration
from churnctl.model.compiled.export import compiled_model_bytes
from churnctl.model.compiled.scorer import FILE_NAME as COMPILED_FILE
from churnctl.model.importance import feature_importance
from churnctl.model.loading import joblib_bytes
from churnctl.model.metrics import classification_metrics
from churnctl.model.predictions import calibrate
from churnctl.model.search import choose_threshold, select_and_fit
from churnctl.registry import Registry, ids
from churnctl.registry.events import model_trained_fields
from churnctl.registry.store import now
from churnctl.runtime.progress import Progress, no_progress

log = logging.getLogger("churnctl")


@dataclass
class TrainResult(Result):
    version: str
    dataset_id: str
    estimator: str
    params: dict
    cv_roc_auc: float
    cv_roc_auc_std: float
    threshold: float
    threshold_strategy: str
    test_metrics: dict
    candidates: list[dict]
    current: str | None
    promoted: bool
    seconds: float
    dataset_source: str = ""  # where the dataset's rows came from
    dataset_latest: bool = False  # chosen as the latest dataset (no --dataset)
    calibration: str = "none"  # none | sigmoid | isotonic
    feature_importance: dict = field(default_factory=dict)  # permutation importance, shares summing to 1
    feature_importance_std: dict = field(default_factory=dict)  # their spread over the repeats


def train(
    registry: Registry,
    settings: Settings,
    *,
    dataset_id: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    promote: bool = False,
    wait: float = 0.0,
    progress: Progress = no_progress,
) -> TrainResult:
    """Train a model version on a dataset (default: the latest); the first version becomes current."""
    with registry.lock(wait):
        return train_locked(
            registry, settings, dataset_id=dataset_id, model=model, seed=seed, promote=promote, progress=progress
        )


def train_locked(
    registry: Registry,
    settings: Settings,
    *,
    dataset_id: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    promote: bool = False,
    progress: Progress = no_progress,
) -> TrainResult:
    """:func:`train` for a caller that already holds the registry lock."""
    cfg = settings.train
    model = model or cfg.model
    seed = cfg.seed if seed is None else seed
    started = time.monotonic()
    registry.check_pointer_agrees()  # before any work: a pointer naming a lost version, or one the log does not explain
    latest = dataset_id is None
    dataset_id = ids.dataset_argument(dataset_id, "--dataset") if dataset_id is not None else registry.latest_dataset()
    dataset_manifest = registry.dataset_manifest(dataset_id)  # read and verified once
    if latest and dataset_manifest.get("source") == "retrain":
        log.warning(
            "training on %s, the latest dataset, which a retrain made (%s); pass --dataset to choose another "
            "('churnctl datasets list')",
            dataset_id,
            describe_source(dataset_manifest),
        )
    schema, train_frame, test_frame = load_dataset(registry, dataset_id)
    X, _ = prepare_features(train_frame, schema, source="training split")
    y = train_frame[schema.target].to_numpy().astype(int)
    log.info(
        "training on dataset %s: %d rows, %d features (model=%s)", dataset_id, len(y), len(schema.feature_names), model
    )
    selection = select_and_fit(
        schema,
        X,
        y,
        model=model,
        seed=seed,
        folds=cfg.cv_folds,
        time_budget=max(cfg.time_budget - (time.monotonic() - started), 0.0),
        selection_rows=cfg.selection_rows,
        progress=progress,
    )
    # Calibration and threshold come from the out-of-fold predictions, never from the test split.
    calibration, calibration_brier = choose_calibration(selection.oof_y, selection.oof_proba, seed)
    threshold = choose_threshold(selection.oof_y, calibrate(selection.oof_proba, calibration), cfg.threshold)
    X_test, _ = prepare_features(test_frame, schema, source="test split")
    y_test = test_frame[schema.target].to_numpy().astype(int)
    test_proba = calibrate(selection.pipeline.predict_proba(X_test)[:, 1], calibration)
    test_metrics = classification_metrics(y_test, test_proba, threshold)
    left = max(cfg.time_budget - (time.monotonic() - started), 0.0)
    t0 = time.monotonic()
    importance, importance_spread = feature_importance(selection.pipeline, X_test, y_test, seed, seconds=left)
    log.debug("permutation importance: %.1f s of the %.1f s left", time.monotonic() - t0, left)
    if not importance:
        log.warning("no permutation importance: the time budget ([train] time_budget) is spent")

    staged = registry.stage()
    staged.write("model.joblib", joblib_bytes(selection.pipeline))
    compiled = compiled_model_bytes(selection.pipeline, schema, X)  # the fast scorer of predict --json
    if compiled is not None:
        staged.write(COMPILED_FILE, compiled)
    # Held-out churn probabilities: the reference of prediction drift (training rows would be
    # scored over-confidently by the model that learnt them).
    staged.write("reference_scores.parquet", parquet_bytes(pd.DataFrame({"churn_probability": test_proba})))
    # Exact sample of training features: the drift reference of this version.
    n_ref = min(cfg.reference_rows, len(train_frame))
    reference = train_frame.sample(n=n_ref, random_state=seed) if n_ref < len(train_frame) else train_frame
    staged.write("reference.parquet", parquet_bytes(reference[schema.feature_names]))
    version = registry.next_version()
    manifest: dict[str, Any] = {
        "version": version,
        "created": now(),
        "dataset_id": dataset_id,
        "seed": seed,
        "estimator": selection.chosen.family,
        "params": selection.chosen.params,
        "model_option": model,
        "cv_folds": cfg.cv_folds,
        "cv_roc_auc": selection.chosen.mean_auc,
        "cv_roc_auc_std": float(np.std(selection.chosen.fold_auc)),
        "candidates": [c.to_dict() for c in selection.candidates],
        "skipped_candidates": selection.skipped,
        "selection_rows": selection.selection_rows,
        "n_iter": selection.n_iter,
        "threshold": threshold,
        "threshold_strategy": str(cfg.threshold),
        "calibration": calibration,
        "calibration_brier": calibration_brier,
        "test_metrics": test_metrics,
        "feature_importance": importance,
        "feature_importance_std": importance_spread,
        "n_train": len(y),
        "n_reference": int(n_ref),
        "schema": schema.to_dict(),
        "versions": {
            "churnctl": churnctl.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    signed = registry.publish_model(staged, version, manifest)
    promoted = registry.current() is None or promote
    registry.record("model_trained", **model_trained_fields(signed))
    if promoted:
        registry.set_current(version, reason="first model" if registry.current() is None else "train --promote")
    return TrainResult(
        version=version,
        dataset_id=dataset_id,
        estimator=selection.chosen.family,
        params=selection.chosen.params,
        cv_roc_auc=selection.chosen.mean_auc,
        cv_roc_auc_std=manifest["cv_roc_auc_std"],
        threshold=threshold,
        threshold_strategy=str(cfg.threshold),
        test_metrics=test_metrics,
        candidates=manifest["candidates"],
        current=registry.current(),
        promoted=promoted,
        seconds=round(time.monotonic() - started, 2),
        dataset_source=describe_source(dataset_manifest),
        dataset_latest=latest,
        calibration=calibration["method"],
        feature_importance=importance,
        feature_importance_std=importance_spread,
    )
