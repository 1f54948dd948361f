"""The lifecycle as library functions: simulate, ingest, train, evaluate, predict, models.

Each function takes a :class:`~churnctl.registry.Registry` (where needed), plain arguments and the
:class:`~churnctl.config.Settings`, does the whole job and returns a result dataclass. Nothing here
prints: problems are raised as :class:`~churnctl.errors.ChurnctlError`, warnings are logged to the
``churnctl`` logger and returned in the result. Every function that changes the registry holds its
lock while it does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

import churnctl
from churnctl import tables
from churnctl.config import Settings, validate_risk_bands
from churnctl.errors import ArtifactError, DataError, UsageError, preview
from churnctl.registry import Registry, ids
from churnctl.registry.files import read_json, sha256_file, write_json_atomic
from churnctl.registry.store import DATASET_FORMAT
from churnctl.schema import (SCHEMA_FORMAT, Schema, encode_target, infer_schema, merge_unseen,
                             prepare_features, unseen_warnings)

log = logging.getLogger("churnctl")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _warn(messages: list[str]) -> list[str]:
    for message in messages:
        log.warning(message)
    return messages


class Result:
    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# simulate


@dataclass
class SimulateResult(Result):
    output: str
    rows: int
    seed: int
    churn_rate: float
    drift: dict


def simulate(rows: int, seed: int, output: str, drift=None) -> SimulateResult:
    from churnctl.simulate import Drift, simulate_customers

    drift = drift or Drift()
    frame = simulate_customers(rows, seed=seed, drift=drift)
    path = Path(output)
    if path.suffix.lower() == ".json":
        records = json.loads(frame.to_json(orient="records"))
        with tables.atomic_output(path) as out:
            out.tmp.write_text(json.dumps(records[0] if rows == 1 else records, indent=2) + "\n")
    else:
        tables.write_table(frame, path)
    return SimulateResult(output=str(path), rows=rows, seed=seed, churn_rate=float(frame["Exited"].mean()),
                          drift={k: v for k, v in asdict(drift).items() if v})


# ---------------------------------------------------------------------------------------------
# ingest


@dataclass
class IngestResult(Result):
    dataset_id: str
    created: bool
    source: str
    source_sha256: str
    target: str
    positive_label: str
    n_rows: int
    n_train: int
    n_test: int
    churn_rate: float
    features: list[dict]
    excluded: list[dict]
    n_unlabelled: int = 0
    warnings: list[str] = field(default_factory=list)


def _dataset_id(checksum: str, target: str, positive: str, test_size: float, seed: int) -> str:
    key = json.dumps({"source": checksum, "target": target, "positive": positive, "test_size": test_size,
                      "seed": seed, "dataset_format": DATASET_FORMAT, "schema_format": SCHEMA_FORMAT},
                     sort_keys=True)
    return "ds-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _ingest_result(manifest: dict, schema: Schema, created: bool, warnings: list[str]) -> IngestResult:
    return IngestResult(
        dataset_id=manifest["dataset_id"], created=created, source=manifest["source"],
        source_sha256=manifest["source_sha256"], target=schema.target, positive_label=schema.positive_label,
        n_rows=manifest["n_rows"], n_train=manifest["n_train"], n_test=manifest["n_test"],
        churn_rate=manifest["churn_rate"], n_unlabelled=manifest.get("n_unlabelled", 0),
        features=[{"name": c.name, "kind": c.kind, "missing_rate": c.missing_rate, "n_unique": c.n_unique}
                  for c in schema.features],
        excluded=[{"name": c.name, "role": c.role, "reason": c.reason}
                  for c in schema.columns if c.role in ("identifier", "ignored")],
        warnings=warnings)


def ingest(registry: Registry, path: str, settings: Settings, *, target: str | None = None,
           positive: str | None = None, test_size: float | None = None, seed: int | None = None,
           wait: float = 0.0) -> IngestResult:
    target = target or settings.data.target
    positive = positive if positive is not None else settings.data.positive
    test_size = settings.data.test_size if test_size is None else test_size
    seed = settings.data.seed if seed is None else seed
    if not 0.0 < test_size < 1.0:
        raise UsageError(f"--test-size must be a fraction between 0 and 1, found {test_size}")

    source = Path(path)
    raw = tables.read_table(source)
    checksum = sha256_file(source)
    if len(raw) == 0:
        raise DataError(f"{source} has a header but no data rows", hint="expected at least one customer row")
    inferred = infer_schema(raw, target, positive)
    schema, frame = inferred.schema, inferred.frame
    warnings = list(inferred.warnings)
    if inferred.n_unlabelled:
        warnings.append(f"{inferred.n_unlabelled} row(s) without a value in target {schema.target!r} were "
                        "left out")
    y = frame[schema.target].to_numpy()
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise DataError(f"target {schema.target!r} has {counts.min()} row(s) of its rarer class; a stratified "
                        "train/test split needs at least 2", hint="ingest more labelled rows of both classes")
    n_test = math.ceil(test_size * len(frame))
    if n_test < 2 or len(frame) - n_test < 2:
        raise DataError(f"{len(frame)} labelled rows are too few for a {test_size:.0%} test split",
                        hint="ingest more rows or change --test-size")
    dataset_id = _dataset_id(checksum, schema.target, schema.positive_label, test_size, seed)

    with registry.lock(wait):
        if registry.has_dataset(dataset_id):
            manifest = registry.dataset_manifest(dataset_id)
            log.info("dataset %s already holds this file with these options; nothing written", dataset_id)
            return _ingest_result(manifest, schema, created=False, warnings=_warn(warnings))
        train_frame, test_frame = stratified_split(frame, y, test_size, seed, str(source))
        manifest = store_dataset(registry, dataset_id, schema, train_frame, test_frame, {
            "source": str(source.resolve()), "source_sha256": checksum, "test_size": test_size, "seed": seed,
            "n_unlabelled": inferred.n_unlabelled})
    return _ingest_result(manifest, schema, created=True, warnings=_warn(warnings))


def stratified_split(frame: pd.DataFrame, y: np.ndarray, test_size: float, seed: int,
                     source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    try:
        train_idx, test_idx = train_test_split(np.arange(len(frame)), test_size=test_size, stratify=y,
                                               random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot split {source} into train and test: {exc}",
                        hint="use more labelled rows of both classes") from None
    return frame.iloc[np.sort(train_idx)], frame.iloc[np.sort(test_idx)]


def store_dataset(registry: Registry, dataset_id: str, schema: Schema, train_frame: pd.DataFrame,
                  test_frame: pd.DataFrame, fields: dict) -> dict:
    """Write a dataset version (caller holds the lock) and log it; returns its manifest."""
    staged = registry.stage()
    train_frame.to_parquet(staged / "train.parquet", index=False)
    test_frame.to_parquet(staged / "test.parquet", index=False)
    write_json_atomic(staged / "schema.json", schema.to_dict())
    y = np.r_[train_frame[schema.target].to_numpy(), test_frame[schema.target].to_numpy()]
    manifest = {
        "dataset_id": dataset_id, "format": DATASET_FORMAT, "created": _now(),
        "target": schema.target, "positive_label": schema.positive_label,
        "n_rows": len(y), "n_train": len(train_frame), "n_test": len(test_frame), "churn_rate": float(y.mean()),
        "churnctl_version": churnctl.__version__, **fields,
    }
    manifest = registry.publish_dataset(staged, dataset_id, manifest)
    registry.record("dataset_added", dataset_id=dataset_id, source=manifest.get("source"),
                    source_sha256=manifest.get("source_sha256"), n_rows=manifest["n_rows"],
                    churn_rate=manifest["churn_rate"])
    return manifest


def load_dataset(registry: Registry, dataset_id: str) -> tuple[Schema, pd.DataFrame, pd.DataFrame]:
    schema = Schema.from_dict(read_json(registry.dataset_file(dataset_id, "schema.json")))
    train = pd.read_parquet(registry.dataset_file(dataset_id, "train.parquet"))
    test = pd.read_parquet(registry.dataset_file(dataset_id, "test.parquet"))
    return schema, train, test


# ---------------------------------------------------------------------------------------------
# models: loading


@dataclass
class LoadedModel:
    version: str
    manifest: dict
    schema: Schema
    pipeline: object
    threshold: float


def load_model(registry: Registry, version: str | None = None) -> LoadedModel:
    """Load a model version (default: current) after checking its checksum and format."""
    import joblib

    version = ids.version_argument(version, "--model") if version else registry.require_current()
    manifest = registry.model_manifest(version)
    path = registry.model_file(version, "model.joblib")  # verifies signature and SHA-256 before unpickling
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # an unpickling failure is an artifact problem, whatever its type
        raise ArtifactError(f"cannot load model {version} from {path}: {exc}",
                            hint="the file may come from an incompatible scikit-learn; retrain") from None
    trained_with = manifest.get("versions", {}).get("scikit-learn")
    import sklearn
    if trained_with and trained_with != sklearn.__version__:
        log.warning("model %s was trained with scikit-learn %s, this is %s; predictions may differ",
                    version, trained_with, sklearn.__version__)
    return LoadedModel(version=version, manifest=manifest, schema=Schema.from_dict(manifest["schema"]),
                       pipeline=pipeline, threshold=float(manifest["threshold"]))


# ---------------------------------------------------------------------------------------------
# train


def feature_importance(pipeline, X: pd.DataFrame, y: np.ndarray, seed: int, max_rows: int = 5000) -> dict:
    """Permutation importance (drop of ROC-AUC) per feature on held-out rows, as shares summing to 1."""
    from sklearn.inspection import permutation_importance

    if len(y) > max_rows:
        keep = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        X, y = X.iloc[np.sort(keep)], y[np.sort(keep)]
    if y.min() == y.max():
        return {}
    result = permutation_importance(pipeline, X, y, scoring="roc_auc", n_repeats=5, random_state=seed)
    raw = np.maximum(result.importances_mean, 0.0)
    total = raw.sum()
    return {name: float(v / total) if total > 0 else 0.0 for name, v in zip(X.columns, raw)}



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


def train(registry: Registry, settings: Settings, *, dataset_id: str | None = None, model: str | None = None,
          seed: int | None = None, promote: bool = False, wait: float = 0.0) -> TrainResult:
    """Train a model version on a dataset (default: the latest); the first version becomes current."""
    with registry.lock(wait):
        return train_locked(registry, settings, dataset_id=dataset_id, model=model, seed=seed, promote=promote)


def train_locked(registry: Registry, settings: Settings, *, dataset_id: str | None = None,
                 model: str | None = None, seed: int | None = None, promote: bool = False) -> TrainResult:
    """:func:`train` for a caller that already holds the registry lock."""
    import joblib
    import sklearn

    from churnctl.metrics import classification_metrics
    from churnctl.modeling import choose_threshold, select_and_fit

    cfg = settings.train
    model = model or cfg.model
    seed = cfg.seed if seed is None else seed
    started = time.monotonic()
    dataset_id = ids.dataset_argument(dataset_id, "--dataset") if dataset_id else registry.latest_dataset()
    schema, train_frame, test_frame = load_dataset(registry, dataset_id)
    X, _ = prepare_features(train_frame, schema, source="training split")
    y = train_frame[schema.target].to_numpy().astype(int)
    log.info("training on dataset %s: %d rows, %d features (model=%s)", dataset_id, len(y),
             len(schema.feature_names), model)
    selection = select_and_fit(schema, X, y, model=model, seed=seed, folds=cfg.cv_folds,
                               time_budget=cfg.time_budget)
    threshold = choose_threshold(y, selection.oof_proba, cfg.threshold)
    X_test, _ = prepare_features(test_frame, schema, source="test split")
    y_test = test_frame[schema.target].to_numpy().astype(int)
    test_proba = selection.pipeline.predict_proba(X_test)[:, 1]
    test_metrics = classification_metrics(y_test, test_proba, threshold)
    importance = feature_importance(selection.pipeline, X_test, y_test, seed)

    staged = registry.stage()
    joblib.dump(selection.pipeline, staged / "model.joblib")
    # Held-out churn probabilities: the reference of prediction drift (training rows would be
    # scored over-confidently by the model that learnt them).
    pd.DataFrame({"churn_probability": test_proba}).to_parquet(staged / "reference_scores.parquet", index=False)
    # Exact sample of training features: the drift reference of this version.
    n_ref = min(cfg.reference_rows, len(train_frame))
    reference = train_frame.sample(n=n_ref, random_state=seed) if n_ref < len(train_frame) else train_frame
    reference[schema.feature_names].to_parquet(staged / "reference.parquet", index=False)
    version = registry.next_version()
    manifest = {
        "version": version, "created": _now(), "dataset_id": dataset_id, "seed": seed,
        "estimator": selection.chosen.family, "params": selection.chosen.params,
        "model_option": model, "cv_folds": cfg.cv_folds,
        "cv_roc_auc": selection.chosen.mean_auc,
        "cv_roc_auc_std": float(np.std(selection.chosen.fold_auc)),
        "candidates": [c.to_dict() for c in selection.candidates],
        "skipped_candidates": selection.skipped,
        "threshold": threshold, "threshold_strategy": str(cfg.threshold),
        "test_metrics": test_metrics, "feature_importance": importance,
        "n_train": int(len(y)), "n_reference": int(n_ref),
        "schema": schema.to_dict(),
        "versions": {"churnctl": churnctl.__version__, "scikit-learn": sklearn.__version__,
                     "pandas": pd.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    registry.publish_model(staged, version, manifest)
    promoted = registry.current() is None or promote
    registry.record("model_trained", version=version, dataset_id=dataset_id,
                    estimator=selection.chosen.family, cv_roc_auc=selection.chosen.mean_auc,
                    test_roc_auc=test_metrics["roc_auc"], threshold=threshold)
    if promoted:
        previous = registry.set_current(version)
        registry.record("model_promoted", version=version, previous=previous,
                        reason="first model" if previous is None else "train --promote")
    current = registry.current()
    return TrainResult(version=version, dataset_id=dataset_id, estimator=selection.chosen.family,
                       params=selection.chosen.params, cv_roc_auc=selection.chosen.mean_auc,
                       cv_roc_auc_std=manifest["cv_roc_auc_std"], threshold=threshold,
                       threshold_strategy=str(cfg.threshold), test_metrics=test_metrics,
                       candidates=manifest["candidates"], current=current, promoted=promoted,
                       seconds=round(time.monotonic() - started, 2))


# ---------------------------------------------------------------------------------------------
# evaluate


@dataclass
class EvaluateResult(Result):
    model_version: str
    data: str
    metrics: dict
    warnings: list[str] = field(default_factory=list)


def evaluate(registry: Registry, *, version: str | None = None, data: str | None = None) -> EvaluateResult:
    from churnctl.metrics import classification_metrics

    model = load_model(registry, version)
    schema = model.schema
    warnings: list[str] = []
    if data is None:
        dataset_id = model.manifest["dataset_id"]
        _, _, frame = load_dataset(registry, dataset_id)
        y = frame[schema.target].to_numpy().astype(int)
        described = f"test split of dataset {dataset_id}"
    else:
        frame = tables.read_table(data)
        if len(frame) == 0:
            raise DataError(f"{data} has a header but no data rows")
        if schema.target not in frame.columns:
            raise DataError(f"{data} has no target column {schema.target!r}; evaluate needs labelled rows",
                            hint="use 'churnctl predict --input' to score unlabelled rows")
        y, labelled = encode_target(frame[schema.target], schema, source=str(data))
        if not labelled.all():
            warnings.append(f"{int((~labelled).sum())} row(s) without a label were left out")
            frame, y = frame.loc[labelled].reset_index(drop=True), y[labelled]
        if len(y) == 0:
            raise DataError(f"{data} has no labelled rows")
        described = str(data)
    X, unseen = prepare_features(frame, schema, source=described)
    warnings += unseen_warnings(unseen, described)
    proba = model.pipeline.predict_proba(X)[:, 1]
    metrics = classification_metrics(y, proba, model.threshold)
    if metrics["roc_auc"] is None:
        warnings.append("the data hold only one class: ROC-AUC and PR-AUC are undefined")
    return EvaluateResult(model_version=model.version, data=described, metrics=metrics, warnings=_warn(warnings))


# ---------------------------------------------------------------------------------------------
# predict


def confidence(proba: np.ndarray, threshold: float) -> np.ndarray:
    """How decided the label is: 0 at the threshold, 1 at probability 0 or 1.

    The distance of the probability from the decision threshold, as a share of the room on that
    side: (p - t) / (1 - t) above the threshold, (t - p) / t below it.
    """
    above = proba >= threshold
    return np.where(above, (proba - threshold) / (1.0 - threshold), (threshold - proba) / threshold)


def score(model: LoadedModel, frame: pd.DataFrame, bands: tuple[float, float], *, source: str = "input",
          row_offset: int = 0) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Predictions for ``frame``: identifiers present in it, then the prediction columns."""
    X, unseen = prepare_features(frame, model.schema, source=source, row_offset=row_offset)
    proba = model.pipeline.predict_proba(X)[:, 1]
    out = pd.DataFrame(index=frame.index)
    for name in model.schema.identifier_names:
        if name in frame.columns:
            out[name] = frame[name].to_numpy()
    out["churn_probability"] = np.round(proba, 6)
    out["churn_label"] = (proba >= model.threshold).astype(int)
    out["risk_level"] = np.where(proba < bands[0], "low", np.where(proba < bands[1], "medium", "high"))
    out["confidence"] = np.round(confidence(proba, model.threshold), 6)
    out["model_version"] = model.version
    return out, unseen


@dataclass
class PredictRowsResult(Result):
    model_version: str
    single: bool
    predictions: list[dict]
    warnings: list[str] = field(default_factory=list)

    def document(self):
        """The JSON written to stdout: one object for one input object, else an array."""
        return self.predictions[0] if self.single else self.predictions


def predict_rows(registry: Registry, settings: Settings, rows_json: str, *, source: str = "input",
                 version: str | None = None) -> PredictRowsResult:
    rows, single = tables.parse_json_rows(rows_json, source)
    model = load_model(registry, version)
    for number, row in enumerate(rows, start=1):
        absent = [name for name in model.schema.feature_names if name not in row]
        if absent:
            raise DataError(f"{source}: row {number} lacks {len(absent)} feature column(s) the model needs: "
                            f"{preview(absent)}", hint="give every feature in every row; null marks a missing value")
    frame = pd.DataFrame.from_records(rows)
    bands = validate_risk_bands(settings.predict.risk_bands)
    predictions, unseen = score(model, frame, bands, source=source)
    records = json.loads(predictions.to_json(orient="records"))
    # Identifiers come back as the caller sent them (JSON types), not as text.
    for record, row in zip(records, rows):
        for name in model.schema.identifier_names:
            if name in record:
                record[name] = row.get(name)
    return PredictRowsResult(model_version=model.version, single=single, predictions=records,
                             warnings=_warn(unseen_warnings(unseen, source)))


def _require_features(path: str, schema: Schema) -> list[str]:
    """The file's header, after checking that it has every feature column."""
    header = tables.read_header(path)
    if any(n not in header for n in schema.feature_names):
        prepare_features(pd.DataFrame(columns=header), schema, source=str(path))  # raises, naming them
    return header


@dataclass
class PredictFileResult(Result):
    model_version: str
    input: str
    output: str | None
    n_rows: int
    n_churn: int
    risk_levels: dict
    mean_probability: float
    warnings: list[str] = field(default_factory=list)


def predict_file(registry: Registry, settings: Settings, input_path: str, *, output: str | None = None,
                 version: str | None = None, batch_rows: int = 100_000) -> PredictFileResult:
    """Score a CSV/Parquet file in batches (bounded memory) into CSV/Parquet, or CSV on stdout."""
    model = load_model(registry, version)
    bands = validate_risk_bands(settings.predict.risk_bands)
    header = _require_features(input_path, model.schema)
    wanted = model.schema.feature_names + [n for n in model.schema.identifier_names if n in header]
    unseen: dict[str, dict[str, int]] = {}
    n_rows = n_churn = 0
    levels = {"low": 0, "medium": 0, "high": 0}
    total_p = 0.0
    with tables.TableWriter(output) as writer:
        for batch in tables.iter_table(input_path, columns=wanted, batch_rows=batch_rows):
            batch.index = pd.RangeIndex(n_rows, n_rows + len(batch))
            predictions, batch_unseen = score(model, batch, bands, source=str(input_path), row_offset=n_rows)
            merge_unseen(unseen, batch_unseen)
            writer.write(predictions)
            n_rows += len(batch)
            n_churn += int(predictions["churn_label"].sum())
            total_p += float(predictions["churn_probability"].sum())
            for level, count in predictions["risk_level"].value_counts().items():
                levels[level] += int(count)
        if n_rows == 0:
            raise DataError(f"{input_path} has a header but no data rows")
    return PredictFileResult(model_version=model.version, input=str(input_path), output=output, n_rows=n_rows,
                             n_churn=n_churn, risk_levels=levels, mean_probability=total_p / n_rows,
                             warnings=_warn(unseen_warnings(unseen, str(input_path))))


# ---------------------------------------------------------------------------------------------
# models list / show / promote / rollback


@dataclass
class ModelSummary(Result):
    version: str
    created: str
    dataset_id: str
    estimator: str
    cv_roc_auc: float | None
    test_roc_auc: float | None
    threshold: float
    status: str  # current | previous | candidate


def list_models(registry: Registry) -> list[ModelSummary]:
    current = registry.current()
    history = registry.promotion_history()
    rejected = {e.get("challenger") for e in registry.events()
                if e.get("event") == "retrain" and e.get("outcome") == "rejected"}
    summaries = []
    for version in registry.versions():
        manifest = registry.model_manifest(version)
        status = ("current" if version == current else
                  "previous champion" if version in history else
                  "rejected" if version in rejected else "not promoted")
        summaries.append(ModelSummary(
            version=version, created=manifest["created"], dataset_id=manifest["dataset_id"],
            estimator=manifest["estimator"], cv_roc_auc=manifest.get("cv_roc_auc"),
            test_roc_auc=manifest.get("test_metrics", {}).get("roc_auc"), threshold=manifest["threshold"],
            status=status))
    return summaries


def show_model(registry: Registry, version: str | None = None) -> dict:
    version = ids.version_argument(version) if version else registry.require_current()
    manifest = dict(registry.model_manifest(version))
    manifest["current"] = registry.current() == version
    return manifest


@dataclass
class PointerResult(Result):
    action: str
    current: str
    previous: str | None


def promote(registry: Registry, version: str, *, wait: float = 0.0, reason: str = "manual promote") -> PointerResult:
    version = ids.version_argument(version)
    with registry.lock(wait):
        registry.verify(version)
        previous = registry.set_current(version, repair=True)
        if previous != version:
            registry.record("model_promoted", version=version, previous=previous, reason=reason)
    return PointerResult(action="promote", current=version, previous=previous)


def rollback(registry: Registry, *, wait: float = 0.0) -> PointerResult:
    with registry.lock(wait):
        leaving, target = registry.rollback()
        registry.record("model_rolled_back", version=target, previous=leaving)
    return PointerResult(action="rollback", current=target, previous=leaving)


@dataclass
class AdoptResult(Result):
    adopted: list[str]


def adopt(registry: Registry, *, confirm: bool, wait: float = 0.0) -> AdoptResult:
    """Sign, with this key, every manifest it did not sign (an artifacts directory from a release
    before signing, or signed with a key since replaced), after checking every file's SHA-256.

    Signing says "I trust what is stored here now": it needs ``confirm``.
    """
    with registry.lock(wait):
        pending = registry.unsigned()
        if pending and not confirm:
            raise UsageError(f"{len(pending)} manifest(s) are not signed with this key: "
                             f"{preview(name for name, _ in pending)}",
                             hint="signing them vouches for their content: check that nobody else could write "
                             f"{registry.root}, then rerun with --yes")
        for _, folder in pending:
            registry.adopt(folder)
        adopted = [name for name, _ in pending]
        if adopted:
            registry.record("manifests_adopted", manifests=adopted, key_id=registry.keys.get().key_id)
    return AdoptResult(adopted=adopted)


# ---------------------------------------------------------------------------------------------
# drift-check


def reference_profile(registry: Registry, model: LoadedModel):
    """The drift reference of a model version, from its stored files (never the original CSV)."""
    from churnctl.drift.profile import ReferenceProfile

    reference = pd.read_parquet(registry.model_file(model.version, "reference.parquet"))
    X_ref, _ = prepare_features(reference, model.schema, source=f"reference of {model.version}")
    scores = pd.read_parquet(registry.model_file(model.version, "reference_scores.parquet"))["churn_probability"]
    return ReferenceProfile.build(model.schema, X_ref, scores.to_numpy())


def drift_monitor(registry: Registry, model: LoadedModel, cfg):
    """A DriftMonitor against ``model``'s stored reference, weighted by its permutation importance."""
    from churnctl.drift.monitor import DriftMonitor

    return DriftMonitor(model, reference_profile(registry, model), cfg,
                        importance=model.manifest.get("feature_importance"))


def drift_check(registry: Registry, settings: Settings, current: str, *, version: str | None = None,
                batch_rows: int = 100_000, **overrides):
    """Compare a CSV/Parquet batch with a model version's reference; returns a DriftReport.

    ``overrides`` replace ``[drift]`` settings (alpha, correction, min_rows, ...). The current file
    streams through in batches; only per-feature counts are kept.
    """
    from dataclasses import replace

    from churnctl.config import validate_drift

    cfg = validate_drift(replace(settings.drift, **{k: v for k, v in overrides.items() if v is not None}))
    model = load_model(registry, version)
    header = _require_features(current, model.schema)
    monitor = drift_monitor(registry, model, cfg)
    columns = model.schema.feature_names + ([model.schema.target] if model.schema.target in header else [])
    for batch in tables.iter_table(current, columns=columns, batch_rows=batch_rows):
        monitor.update(batch, source=str(current))
    if monitor.n_rows == 0:
        raise DataError(f"{current} has a header but no data rows")
    report = monitor.report()
    _warn(report.warnings)
    registry.record("drift_checked", model_version=model.version, current=str(Path(current).resolve()),
                    current_sha256=sha256_file(current), n_current=report.n_current, status=report.status,
                    drift_detected=report.drift_detected, drifted_features=report.drifted_features,
                    share_drifted=report.share_drifted, prediction_drift=report.prediction_drift["drift"],
                    performance_drift=bool(report.performance and report.performance["drift"]),
                    reasons=report.reasons)
    return report


# ---------------------------------------------------------------------------------------------
# history and verification

HISTORY_EVENTS = ("model_trained", "model_promoted", "model_rolled_back", "retrain", "models_pruned")


def history(registry: Registry) -> list[dict]:
    """Registry events about model versions, oldest first, flattened for display."""
    rows = []
    for event in registry.events():
        kind = event.get("event")
        if kind not in HISTORY_EVENTS:
            continue
        rows.append({
            "time": event.get("time"), "event": kind,
            "version": event.get("version") or event.get("challenger") or ", ".join(event.get("versions", [])),
            "previous": event.get("previous") or event.get("champion"),
            "outcome": event.get("outcome"), "reason": event.get("reason"),
        })
    return rows


def verify(registry: Registry) -> dict[str, str | None]:
    """Check every model version's and dataset's files against their manifests."""
    problems = registry.verify_all()
    current = registry.current()
    if current is not None and f"model {current}" not in problems:
        problems[f"model {current}"] = "the current pointer names a version that does not exist"
    return problems
