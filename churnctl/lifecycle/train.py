"""train: select, fit and store a model version on a dataset version."""

from __future__ import annotations

import io
import logging
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn

import churnctl
from churnctl.config import DriftSettings, Policy, Settings, TrainSettings, parse_policy
from churnctl.contract.frames import prepare_features
from churnctl.contract.leaks import LEAK_AUC, feature_powers
from churnctl.data.datasets import describe_source, parquet_bytes
from churnctl.data.split import row_groups
from churnctl.drift.multivariate import MultivariateReference
from churnctl.lifecycle.mirror import mirror, open_run
from churnctl.lifecycle.results import Result
from churnctl.model.calibration import choose_calibration
from churnctl.model.compiled.export import compiled_model_bytes
from churnctl.model.compiled.scorer import FILE_NAME as COMPILED_FILE
from churnctl.model.importance import feature_importance, seeded_rows
from churnctl.model.loading import joblib_bytes
from churnctl.model.metrics import classification_metrics
from churnctl.model.predictions import calibrate
from churnctl.model.search import Selection, select_and_fit
from churnctl.model.training_data import TrainingData, read_training_data, score_test_split
from churnctl.registry import Registry
from churnctl.registry.events import model_trained_fields
from churnctl.registry.files import Staged
from churnctl.registry.store import now
from churnctl.runtime.progress import Progress, no_progress
from churnctl.value.campaign import Campaign
from churnctl.value.policy import Chosen, choose

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
    split: dict = field(default_factory=dict)  # how the dataset's rows were split (kind, time ranges)
    cv_kind: str = "stratified"  # the kind of cross-validation folds: stratified, grouped, forward in time
    threshold_policy: dict = field(default_factory=dict)  # what the threshold policy chose, out of fold


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
        result = train_locked(
            registry, settings, dataset_id=dataset_id, model=model, seed=seed, promote=promote, progress=progress
        )
    mirror(registry, settings)  # after the lock: a slow or absent server never holds other writers
    return result


# Held-out churn probabilities kept as the reference of prediction drift, at most: every drift check
# (and every Dask worker) holds their distinct values.
REFERENCE_SCORE_ROWS = 200_000
TOO_GOOD_AUC = 0.995  # a cross-validated ROC-AUC this high on churn data means a leak, not a model


def recheck_leaks(data: TrainingData, X: pd.DataFrame, y: np.ndarray, seed: int) -> None:
    """The leak guard again on the rows trained on: a feature kept by --keep-column, or one that the
    rows of a retrain made powerful, is named with a warning (ingest excluded the others)."""
    leak_auc = float(data.manifest.get("leak_auc") or LEAK_AUC)
    for name, power in feature_powers(X, y, data.schema, seed).items():
        if power.auc >= leak_auc:
            log.warning(
                "feature %r alone separates churners with ROC-AUC %.3f on the training split (through %s): "
                "a suspected leak; the model will lean on it",
                name,
                power.auc,
                power.through,
            )


@dataclass
class Fit:
    """A selected, fitted, calibrated pipeline and what was measured of it (never on the test split,
    but for the test metrics and the importance)."""

    selection: Selection
    X_train: pd.DataFrame  # the training split as the pipeline takes it
    calibration: dict[str, Any]
    calibration_brier: dict[str, Any]
    threshold: float
    threshold_policy: dict[str, Any]  # the policy, what it flags and, with [value] settings, is worth
    test_proba: np.ndarray
    test_metrics: dict
    importance: dict
    importance_spread: dict


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
    data = read_training_data(registry, dataset_id, cfg.max_rows, seed)
    fit = fit_model(data, cfg, model, seed, started, progress, Campaign.from_settings(settings.value))
    version = registry.next_version()
    staged = stage_files(registry, data, fit, cfg, seed, settings.drift)
    manifest = build_manifest(version, data, fit, cfg, model, seed, staged)
    run_id = open_run(registry, settings, version, data.dataset_id)
    if run_id is not None:  # the MLflow run that mirrors this version (only with a mirror configured)
        manifest["mlflow_run_id"] = run_id
    signed = registry.publish_model(staged.staged, version, manifest)
    promoted = registry.current() is None or promote
    registry.record("model_trained", **model_trained_fields(signed))
    if promoted:
        registry.set_current(version, reason="first model" if registry.current() is None else "train --promote")
    chosen = fit.selection.chosen
    return TrainResult(
        version=version,
        dataset_id=data.dataset_id,
        estimator=chosen.family,
        params=chosen.params,
        cv_roc_auc=chosen.mean_auc,
        cv_roc_auc_std=manifest["cv_roc_auc_std"],
        threshold=fit.threshold,
        threshold_strategy=fit.threshold_policy["policy"],
        test_metrics=fit.test_metrics,
        candidates=manifest["candidates"],
        current=registry.current(),
        promoted=promoted,
        seconds=round(time.monotonic() - started, 2),
        dataset_source=describe_source(data.manifest),
        dataset_latest=data.latest,
        calibration=fit.calibration["method"],
        feature_importance=fit.importance,
        feature_importance_std=fit.importance_spread,
        split=manifest["split"],
        cv_kind=manifest["cv_kind"],
        threshold_policy=fit.threshold_policy,
    )


def fit_model(
    data: TrainingData,
    cfg: TrainSettings,
    model: str,
    seed: int,
    started: float,
    progress: Progress,
    campaign: Campaign | None = None,
) -> Fit:
    """Select and fit the pipeline; calibration and threshold (by the ``[train] threshold`` policy, with
    ``campaign`` for the value-based ones) from the out-of-fold predictions, never from the test split;
    test metrics and permutation importance on the test split."""
    policy = parse_policy(cfg.threshold)
    schema = data.schema
    X, _ = prepare_features(data.train, schema, source="training split")
    y = data.train[schema.target].to_numpy().astype(int)
    log.info(
        "training on dataset %s: %d rows, %d features (model=%s)",
        data.dataset_id,
        len(y),
        len(schema.feature_names),
        model,
    )
    recheck_leaks(data, X, y, seed)
    group = data.train[schema.group_column] if schema.group_column in data.train.columns else None
    groups, _ = row_groups(data.train, [*schema.feature_names, schema.target], group)
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
        groups=groups,
        times=data.train[schema.time_column] if schema.time_column in data.train.columns else None,
    )
    calibration, calibration_brier = choose_calibration(selection.oof_y, selection.oof_proba, seed)
    chosen = _threshold(policy, selection, calibration, data, campaign)
    threshold = chosen.threshold
    y_test, test_proba, X_some, y_some = score_test_split(data.test, selection.pipeline, calibration, seed)
    test_metrics = classification_metrics(y_test, test_proba, threshold)
    left = max(cfg.time_budget - (time.monotonic() - started), 0.0)
    t0 = time.monotonic()
    importance, spread = feature_importance(selection.pipeline, X_some, y_some, seed, seconds=left)
    log.debug("permutation importance: %.1f s of the %.1f s left", time.monotonic() - t0, left)
    if not importance:
        log.warning("no permutation importance: the time budget ([train] time_budget) is spent")
    if selection.chosen.mean_auc >= TOO_GOOD_AUC:
        top = max(importance, key=lambda name: importance[name]) if importance else None
        log.warning(
            "cross-validated ROC-AUC %.4f is too good to be true for churn: check for leaked columns%s",
            selection.chosen.mean_auc,
            f" (the most important feature is {top!r})" if top else "",
        )
    return Fit(
        selection,
        X,
        calibration,
        calibration_brier,
        threshold,
        chosen.figures,
        test_proba,
        test_metrics,
        importance,
        spread,
    )


def _threshold(
    policy: Policy, selection: Selection, calibration: dict[str, Any], data: TrainingData, campaign: Campaign | None
) -> Chosen:
    """The threshold of ``policy`` on the calibrated out-of-fold predictions (with the customers' values
    for a campaign; a budget is spent on a customer base as large as the dataset)."""
    chosen = choose(
        policy,
        selection.oof_y,
        calibrate(selection.oof_proba, calibration),
        campaign=campaign,
        values=campaign.values(data.train.iloc[selection.oof_rows], "training split") if campaign else None,
        base_rows=len(data.train) + data.test.n_rows,
    )
    for warning in chosen.warnings:
        log.warning("%s", warning)
    return chosen


@dataclass
class StagedVersion:
    staged: Staged
    n_reference: int
    multivariate: dict[str, Any] | None = None  # the domain classifier's chance level on the reference


def stage_files(
    registry: Registry, data: TrainingData, fit: Fit, cfg: TrainSettings, seed: int, drift: DriftSettings
) -> StagedVersion:
    """The version's files, written in staging: the pipeline, its compiled form, and the drift reference,
    with what the domain classifier reaches between halves of that reference (for the ``drift``
    settings), which every drift check would otherwise compute again."""
    schema = data.schema
    staged = registry.stage()
    staged.write("model.joblib", joblib_bytes(fit.selection.pipeline))
    compiled = compiled_model_bytes(fit.selection.pipeline, schema, fit.X_train)  # the fast scorer
    if compiled is not None:
        staged.write(COMPILED_FILE, compiled)
    # Held-out churn probabilities: the reference of prediction drift (training rows would be
    # scored over-confidently by the model that learnt them); a seeded sample of a large test split.
    scores = fit.test_proba
    kept = seeded_rows(len(scores), REFERENCE_SCORE_ROWS, seed)
    scores = scores if kept is None else scores[kept]
    staged.write("reference_scores.parquet", parquet_bytes(pd.DataFrame({"churn_probability": scores})))
    # Exact sample of training features: the drift reference of this version.
    n_ref = min(cfg.reference_rows, len(data.train))
    reference = data.train.sample(n=n_ref, random_state=seed) if n_ref < len(data.train) else data.train
    stored = parquet_bytes(reference[schema.feature_names])
    staged.write("reference.parquet", stored)
    multivariate = None
    if drift.multivariate_rows:  # from the stored bytes, as drift-check reads them
        X_ref, _ = prepare_features(pd.read_parquet(io.BytesIO(stored)), schema, source="the drift reference")
        joint = MultivariateReference.build(X_ref, schema, drift.multivariate_rows, drift.seed)
        multivariate = joint.record(drift.multivariate_rows, drift.seed)
    return StagedVersion(staged, int(n_ref), multivariate)


def build_manifest(
    version: str, data: TrainingData, fit: Fit, cfg: TrainSettings, model: str, seed: int, staged: StagedVersion
) -> dict[str, Any]:
    """The manifest of a new version (signed when it is published): everything that changes its
    answers, and how it was chosen."""
    selection, chosen = fit.selection, fit.selection.chosen
    return {
        "version": version,
        "created": now(),
        "dataset_id": data.dataset_id,
        "seed": seed,
        "estimator": chosen.family,
        "params": chosen.params,
        "model_option": model,
        "cv_folds": cfg.cv_folds,
        "cv_kind": selection.folds,
        "split": data.manifest.get("split") or {"kind": "stratified random"},
        "cv_roc_auc": chosen.mean_auc,
        "cv_roc_auc_std": float(np.std(chosen.fold_auc)),
        "candidates": [c.to_dict() for c in selection.candidates],
        "skipped_candidates": selection.skipped,
        "selection_rows": selection.selection_rows,
        "n_iter": selection.n_iter,
        "threshold": fit.threshold,
        "threshold_strategy": fit.threshold_policy["policy"],
        "threshold_policy": fit.threshold_policy,
        "calibration": fit.calibration,
        "calibration_brier": fit.calibration_brier,
        "test_metrics": fit.test_metrics,
        "feature_importance": fit.importance,
        "feature_importance_std": fit.importance_spread,
        "n_train": len(data.train),
        "n_train_seen": data.seen or len(data.train),
        "n_reference": staged.n_reference,
        **({"multivariate_reference": staged.multivariate} if staged.multivariate else {}),
        "schema": data.schema.to_dict(),
        "versions": {
            "churnctl": churnctl.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
