"""Unattended retraining: champion/challenger on newly labelled data, safe to run from cron.

One run, all under the registry lock:

1. list the input files (a file, or every CSV/Parquet file of a directory); files whose content
   hash an earlier retrain already processed are left out, and with nothing new the run is
   ``skipped``;
2. validate the new rows against the champion's schema (the target must be present);
3. run the drift check against the champion's reference; no drift and no ``--force`` → ``skipped``;
4. record a dataset version: training rows = the champion's training rows followed by the new
   rows, the most recent ``window_rows`` of them; test rows = a stratified ``holdout`` share of the
   NEW rows only, so that both models are judged on the data that matter now;
5. train a challenger with the same model selection as ``train``;
6. score champion and challenger on that holdout; promote only if the challenger's ROC-AUC beats
   the champion's by ``min_improvement`` AND a paired bootstrap of the holdout says the gain is not
   chance (one-sided p ≤ ``max_p_value``) AND it passes the absolute floors; otherwise the challenger
   stays as a rejected version and the champion stays current;
7. prune old versions beyond ``keep_versions`` (never the current or the previous champion) and
   append one ``retrain`` event with inputs, drift summary, both models' metrics and the decision.

A run killed at any moment leaves the registry consistent: versions appear by atomic rename, the
current pointer moves by atomic replace, and the next run clears the staging area. Input files are
marked processed by the ``retrain`` event, written before the pointer moves: a run killed before
the event processes its files again next time; one killed between the event and the pointer move
has its promotion completed by the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnctl.config import Settings
from churnctl.contract.frames import encode_target, prepare_features
from churnctl.contract.inference import refresh_statistics
from churnctl.contract.values import to_text
from churnctl.data import tables
from churnctl.data.datasets import derived_dataset_id, load_dataset, store_dataset, stratified_split
from churnctl.drift.monitor import DriftMonitor, DriftReport
from churnctl.errors import DataError
from churnctl.lifecycle.results import Result
from churnctl.lifecycle.train import train_locked
from churnctl.model.loading import load_model
from churnctl.model.metrics import classification_metrics, paired_bootstrap_pvalue
from churnctl.registry import Registry
from churnctl.registry.ids import stored_version
from churnctl.runtime.files import sha256_file

log = logging.getLogger("churnctl")
DATA_SUFFIXES = tuple(s for s in tables.CSV_SUFFIXES if s != ".txt") + tables.PARQUET_SUFFIXES
MIN_HOLDOUT_CLASS = 10  # churners and non-churners each in the holdout, for a comparison that means anything


@dataclass
class RetrainResult(Result):
    outcome: str  # promoted | rejected | skipped
    reason: str
    champion: str | None
    challenger: str | None
    metrics: dict | None
    drift: dict | None
    inputs: list[dict] = field(default_factory=list)
    dataset_id: str | None = None
    current: str | None = None
    pruned: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def input_files(data: str) -> list[Path]:
    path = Path(data)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(DATA_SUFFIXES)
        )
        if not files:
            raise DataError(
                f"directory {path} holds no CSV or Parquet file",
                hint="put the newly labelled rows there as .csv or .parquet files",
            )
        return files
    if not path.exists():
        raise DataError(f"{path} does not exist", hint="pass a labelled CSV/Parquet file or a directory of them")
    return [path]


def processed_hashes(registry: Registry) -> set[str]:
    done: set[str] = set()
    for event in registry.events():
        inputs = event.get("inputs") if event.get("event") == "retrain" else None
        for item in inputs if isinstance(inputs, list) else []:  # the log is not signed: check each shape
            if isinstance(item, dict) and item.get("processed") is True and isinstance(item.get("sha256"), str):
                done.add(item["sha256"])
    return done


def _drift_summary(report: DriftReport) -> dict:
    return {
        "drift_detected": report.drift_detected,
        "status": report.status,
        "drifted_features": report.drifted_features,
        "share_drifted": report.share_drifted,
        "prediction_drift": report.prediction_drift.drift,
        "performance_drift": bool(report.performance and report.performance.drift),
        "roc_auc_current": report.performance.roc_auc if report.performance else None,
        "reasons": report.reasons,
    }


def _prune(registry: Registry, keep: int) -> list[str]:
    versions = registry.versions()
    history = registry.promotion_history()
    protected = {registry.current(), *history[-2:]}
    pruned: list[str] = []
    for version in versions:
        if len(versions) - len(pruned) <= keep:
            break
        if version not in protected:
            registry.prune(version)
            pruned.append(version)
    if pruned:
        registry.record("models_pruned", versions=pruned, keep=keep)
    return pruned


def _input_sha256(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise DataError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the file and its permissions"
        ) from None


def complete_interrupted_promotion(registry: Registry) -> str | None:
    """Finish a promotion that a killed retrain decided (its event is written) but did not apply.

    Called with the lock held. Returns the version promoted here, if any.
    """
    events = registry.events()
    last = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "retrain"), None)
    if last is None or events[last].get("outcome") != "promoted":
        return None
    target = stored_version(events[last].get("challenger"), f"the last retrain event of {registry.events_path}")
    moved_since = any(e.get("event") in ("model_promoted", "model_rolled_back") for e in events[last + 1 :])
    if moved_since or registry.current() == target or target not in registry.versions():
        return None
    registry.verify(target)
    registry.set_current(target, reason="retrain (completed after an interrupted run)")
    log.warning("completed the promotion of %s decided by an interrupted retrain", target)
    return target


def retrain(
    registry: Registry, settings: Settings, data: str, *, force: bool = False, wait: float = 0.0
) -> RetrainResult:
    cfg = settings.retrain
    files = input_files(data)
    hashes = {f: _input_sha256(f) for f in files}  # before the lock: an unreadable input is the data's fault
    with registry.lock(wait):
        registry.check_pointer_agrees()  # the champion is the current model: never one the log does not explain
        complete_interrupted_promotion(registry)
        champion = load_model(registry)
        schema = champion.schema
        done = processed_hashes(registry)
        new_files = [f for f in files if hashes[f] not in done]
        inputs = [{"path": str(f.resolve()), "sha256": hashes[f], "processed": f in new_files} for f in files]

        def finish(result: RetrainResult) -> RetrainResult:
            if result.outcome == "skipped":  # only rows that went into a training count as processed
                for item in inputs:
                    item["processed"] = False
            result.inputs, result.current = inputs, registry.current()
            registry.record(
                "retrain",
                outcome=result.outcome,
                reason=result.reason,
                champion=result.champion,
                challenger=result.challenger,
                dataset_id=result.dataset_id,
                inputs=inputs,
                drift=result.drift,
                metrics=result.metrics,
            )
            for message in result.warnings:
                log.warning(message)
            return result

        if not new_files:
            return finish(
                RetrainResult(
                    "skipped",
                    "already processed: every input file was used by an earlier retrain",
                    champion.version,
                    None,
                    None,
                    None,
                )
            )

        # 2. validate
        frames = []
        for path in new_files:
            frame = tables.read_table(path)
            if schema.target not in frame.columns:
                raise DataError(
                    f"{path} has no target column {schema.target!r}; retrain needs labelled rows",
                    hint="use 'churnctl drift-check' for unlabelled data",
                )
            y, labelled = encode_target(frame[schema.target], schema, source=str(path))
            frame = frame.loc[labelled].reset_index(drop=True)
            X, _ = prepare_features(frame, schema, source=str(path))
            typed = X.copy()
            for name in schema.identifier_names:
                if name in frame.columns:
                    typed[name] = to_text(frame[name]).to_numpy()
            typed[schema.target] = y[labelled].astype("int8")
            frames.append(typed)
        new_rows = pd.concat(frames, ignore_index=True)
        if len(new_rows) == 0:
            raise DataError("the new files hold no labelled rows")

        log.debug("%d new labelled row(s) from %d new file(s)", len(new_rows), len(new_files))
        # 3. drift
        monitor = DriftMonitor.for_model(registry, champion, settings.drift)
        monitor.update(new_rows[schema.feature_names], source="new data", labels=new_rows[schema.target].to_numpy())
        report = monitor.report()
        drift = _drift_summary(report)
        if report.status == "insufficient_data" and not force:
            return finish(
                RetrainResult(
                    "skipped",
                    f"too few new rows for a drift verdict ({len(new_rows)}, at least "
                    f"{settings.drift.min_rows} needed); they will be used with later files",
                    champion.version,
                    None,
                    None,
                    drift,
                    warnings=report.warnings,
                )
            )
        if not report.drift_detected and not force:
            return finish(
                RetrainResult(
                    "skipped",
                    f"no drift in {len(new_rows)} new rows (use --force to retrain anyway)",
                    champion.version,
                    None,
                    None,
                    drift,
                    warnings=report.warnings,
                )
            )

        # 4. dataset: previous training rows + new rows, most recent window; holdout from the new rows
        y_new = new_rows[schema.target].to_numpy()
        counts = np.bincount(y_new, minlength=2)
        if counts.min() < 2 or len(new_rows) * cfg.holdout < 2:
            raise DataError(
                f"the new data hold {counts[1]} churned and {counts[0]} retained customers; "
                f"comparing champion and challenger needs at least {MIN_HOLDOUT_CLASS} of each in the "
                "holdout",
                hint="wait for more labelled rows",
            )
        new_train, holdout = stratified_split(new_rows, y_new, cfg.holdout, cfg.seed, "the new data")
        holdout_counts = np.bincount(holdout[schema.target].to_numpy(), minlength=2)
        if holdout_counts.min() < MIN_HOLDOUT_CLASS:
            raise DataError(
                f"the holdout of the new data would hold {holdout_counts[1]} churned and "
                f"{holdout_counts[0]} retained customers; comparing champion and challenger needs at "
                f"least {MIN_HOLDOUT_CLASS} of each",
                hint="wait for more labelled rows, or raise [retrain] holdout",
            )
        _, previous_train, _ = load_dataset(registry, champion.manifest["dataset_id"])
        columns = list(new_rows.columns)
        previous_train = previous_train.reindex(columns=columns)
        training = pd.concat([previous_train, new_train], ignore_index=True).tail(cfg.window_rows)
        dataset_id = derived_dataset_id(
            {
                "base": champion.manifest["dataset_id"],
                "inputs": sorted(hashes[f] for f in new_files),
                "holdout": cfg.holdout,
                "window": cfg.window_rows,
                "seed": cfg.seed,
            }
        )
        if not registry.has_dataset(dataset_id):
            X_all, _ = prepare_features(training, schema, source="training rows")
            store_dataset(
                registry,
                dataset_id,
                refresh_statistics(schema, X_all),
                training.reset_index(drop=True),
                holdout.reset_index(drop=True),
                {
                    "source": "retrain",
                    "base_dataset": champion.manifest["dataset_id"],
                    "inputs": [i for i in inputs if i["processed"]],
                    "holdout": cfg.holdout,
                    "window_rows": cfg.window_rows,
                    "seed": cfg.seed,
                },
            )

        log.debug("dataset %s: %d training rows, %d holdout rows", dataset_id, len(training), len(holdout))
        # 5. challenger
        trained = train_locked(registry, settings, dataset_id=dataset_id, promote=False)
        challenger = load_model(registry, trained.version)

        # 6. compare on the same holdout
        y_hold = holdout[schema.target].to_numpy().astype(int)
        X_hold, _ = prepare_features(holdout, schema, source="holdout")
        p_champion = champion.predict_proba(X_hold)
        X_hold_c, _ = prepare_features(holdout, challenger.schema, source="holdout")
        p_challenger = challenger.predict_proba(X_hold_c)
        champion_metrics = classification_metrics(y_hold, p_champion, champion.threshold)
        challenger_metrics = classification_metrics(y_hold, p_challenger, challenger.threshold)
        gain = challenger_metrics["roc_auc"] - champion_metrics["roc_auc"]
        p_value = paired_bootstrap_pvalue(y_hold, p_champion, p_challenger, cfg.bootstrap, cfg.seed)
        metrics = {
            "holdout_rows": len(y_hold),
            "champion": champion_metrics,
            "challenger": challenger_metrics,
            "roc_auc_gain": gain,
            "bootstrap_p_value": p_value,
        }
        failures = []
        if gain < cfg.min_improvement:
            failures.append(f"ROC-AUC gain {gain:+.4f} is below the required {cfg.min_improvement:.4f}")
        if p_value is not None and p_value > cfg.max_p_value:
            failures.append(f"paired bootstrap p-value {p_value:.3f} > {cfg.max_p_value}")
        if challenger_metrics["roc_auc"] < cfg.min_roc_auc:
            failures.append(f"ROC-AUC {challenger_metrics['roc_auc']:.4f} below the floor {cfg.min_roc_auc}")
        if challenger_metrics["pr_auc"] < cfg.min_pr_auc:
            failures.append(f"PR-AUC {challenger_metrics['pr_auc']:.4f} below the floor {cfg.min_pr_auc}")
        reason = "; ".join(failures) or (
            f"challenger ROC-AUC {challenger_metrics['roc_auc']:.4f} beats the champion's "
            f"{champion_metrics['roc_auc']:.4f} by {gain:+.4f}"
            + (f" (bootstrap p = {p_value:.3f})" if p_value is not None else "")
        )
        # The event goes first: it marks the files processed and names the version to promote, so
        # a run killed before the pointer moves is completed by the next one (see below).
        outcome = "rejected" if failures else "promoted"
        result = finish(
            RetrainResult(
                outcome,
                reason,
                champion.version,
                challenger.version,
                metrics,
                drift,
                dataset_id=dataset_id,
                warnings=report.warnings,
            )
        )
        if outcome == "promoted":
            registry.set_current(challenger.version, reason="retrain")
            result.current = challenger.version
        result.pruned = _prune(registry, cfg.keep_versions)
        return result
