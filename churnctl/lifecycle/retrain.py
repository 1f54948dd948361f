"""Unattended retraining: champion/challenger on newly labelled data, safe to run from cron.

One run, all under the registry lock:

1. list the input's parts (a file, folder, glob or URL, as every command reads inputs); parts whose
   content hash an earlier retrain already processed are left out, and with nothing new the run is
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnctl.config import RetrainSettings, Settings
from churnctl.contract.frames import prepare_features
from churnctl.contract.inference import refresh_statistics, time_column
from churnctl.contract.schema import Schema
from churnctl.contract.values import to_text
from churnctl.data.datasets import derived_dataset_id, store_dataset, tail_split
from churnctl.data.labelled import iter_labelled
from churnctl.data.sources import Part, is_url, resolve
from churnctl.data.split import row_groups, split_rows
from churnctl.drift.monitor import DriftReport
from churnctl.errors import DataError, UsageError
from churnctl.lifecycle.champion import decide
from churnctl.lifecycle.drift_check import drift_monitor
from churnctl.lifecycle.mirror import mirror
from churnctl.lifecycle.results import Result
from churnctl.lifecycle.train import train_locked
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
from churnctl.registry.ids import stored_version
from churnctl.value.campaign import Campaign

log = logging.getLogger("churnctl")
MIN_HOLDOUT_CLASS = 10  # churners and non-churners each in the holdout, for a comparison that means anything
RETRAIN_HINT = "use 'churnctl drift-check' for unlabelled data"


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


# -- 1. inputs ------------------------------------------------------------------------------------


@dataclass
class Input:
    part: Part
    sha256: str


def list_inputs(data: str) -> list[Input]:
    """The parts of ``data`` with their content hashes (read before the lock: an unreadable input is the
    data's fault, and a writer waiting for the lock must not hold it while reading)."""
    if not is_url(data) and not set("*?[") & set(data) and not Path(data).exists():
        raise DataError(f"{data} does not exist", hint="pass a labelled CSV/Parquet file, a folder or glob of them")
    inputs = []
    for part in resolve(data).parts:
        try:
            inputs.append(Input(part, part.sha256()))
        except OSError as exc:
            raise DataError(
                f"cannot read {part.name}: {exc.strerror or exc}", hint="check the file and its permissions"
            ) from None
    return inputs


def processed_hashes(registry: Registry) -> set[str]:
    """The content hashes of the inputs earlier retrains trained on."""
    done: set[str] = set()
    for event in registry.events():
        inputs = event.get("inputs") if event.get("event") == "retrain" else None
        for item in inputs if isinstance(inputs, list) else []:  # the log is not signed: check each shape
            if isinstance(item, dict) and item.get("processed") is True and isinstance(item.get("sha256"), str):
                done.add(item["sha256"])
    return done


def read_new_rows(parts: list[Part], schema: Schema, values: tuple[str, ...] = ()) -> pd.DataFrame:
    """The labelled rows of the new parts, typed by the champion's schema: features, the identifier
    columns present, the columns of customer ``values`` (numbers), and the 0/1 target (rows without a
    label are left out)."""
    frames = []
    for part in parts:
        with part.fetched() as local:
            extra = tuple(c for c in (schema.group_column, schema.time_column, *values) if c is not None)
            for batch in iter_labelled(
                local, schema, purpose="retrain", hint=RETRAIN_HINT, identifiers=True, extra=extra
            ):
                frame = batch.frame.loc[batch.labelled].reset_index(drop=True)
                X, _ = prepare_features(frame, schema, source=part.name, row_offset=batch.row_offset)
                typed = X.copy()
                for name in [*schema.identifier_names, schema.group_column]:
                    if name is not None and name in frame.columns:
                        typed[name] = to_text(frame[name]).to_numpy()
                if schema.time_column is not None and schema.time_column in frame.columns:
                    typed[schema.time_column] = time_column(schema.time_column, frame[schema.time_column])[1]
                for name in values:
                    if name not in typed.columns and name in frame.columns:
                        typed[name] = pd.to_numeric(frame[name], errors="coerce").to_numpy()
                typed[schema.target] = batch.y[batch.labelled].astype("int8")
                frames.append(typed)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(rows) == 0:
        raise DataError("the new files hold no labelled rows")
    return rows


# -- 3. drift --------------------------------------------------------------------------------------


@dataclass
class DriftStep:
    report: DriftReport
    summary: dict
    skip: str | None  # why the run stops here, if it does


def check_drift(registry: Registry, settings: Settings, champion: Scorer, rows: pd.DataFrame, force: bool) -> DriftStep:
    """The new rows against the champion's reference; without drift (or with too few rows for a verdict)
    and without ``force``, the run stops."""
    schema = champion.schema
    monitor = drift_monitor(registry, champion, settings.drift)
    monitor.update(rows[schema.feature_names], source="new data", labels=rows[schema.target].to_numpy())
    report = monitor.report()
    skip = None
    if report.status == "insufficient_data" and not force:
        skip = (
            f"too few new rows for a drift verdict ({len(rows)}, at least {settings.drift.min_rows} needed); "
            "they will be used with later files"
        )
    elif not report.drift_detected and not force:
        skip = f"no drift in {len(rows)} new rows (use --force to retrain anyway)"
    return DriftStep(report, _drift_summary(report), skip)


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


# -- 4. the dataset ----------------------------------------------------------------------------------


@dataclass
class RetrainDataset:
    dataset_id: str
    holdout: pd.DataFrame  # the new rows held out to judge both models


def store_retrain_dataset(
    registry: Registry, champion: Scorer, rows: pd.DataFrame, cfg: RetrainSettings, inputs: list[dict]
) -> RetrainDataset:
    """Training rows = the champion's training rows followed by the new ones, the most recent
    ``window_rows``; test rows = a stratified ``holdout`` share of the new rows only."""
    schema = champion.schema
    y_new = rows[schema.target].to_numpy()
    counts = np.bincount(y_new, minlength=2)
    if counts.min() < 2 or len(rows) * cfg.holdout < 2:
        raise DataError(
            f"the new data hold {counts[1]} churned and {counts[0]} retained customers; comparing champion and "
            f"challenger needs at least {MIN_HOLDOUT_CLASS} of each in the holdout",
            hint="wait for more labelled rows",
        )
    group = rows[schema.group_column] if schema.group_column in rows.columns else None
    groups, _ = row_groups(rows, [*schema.feature_names, schema.target], group)
    times = rows[schema.time_column] if schema.time_column in rows.columns else None
    # The holdout is drawn as the dataset's test split was: whole groups, twins together, the newest rows.
    split = split_rows(y_new, cfg.holdout, cfg.seed, "the new data", groups=groups, times=times)
    new_train, holdout = rows.iloc[split.train], rows.iloc[split.test]
    holdout_counts = np.bincount(holdout[schema.target].to_numpy(), minlength=2)
    if holdout_counts.min() < MIN_HOLDOUT_CLASS:
        raise DataError(
            f"the holdout of the new data would hold {holdout_counts[1]} churned and {holdout_counts[0]} retained "
            f"customers; comparing champion and challenger needs at least {MIN_HOLDOUT_CLASS} of each",
            hint="wait for more labelled rows, or raise [retrain] holdout",
        )
    base = champion.manifest["dataset_id"]
    previous_train = tail_split(registry, base, "train", max(cfg.window_rows - len(new_train), 0))
    previous_train = previous_train.reindex(columns=list(rows.columns))
    training = pd.concat([previous_train, new_train], ignore_index=True).tail(cfg.window_rows)
    processed = [i for i in inputs if i["processed"]]
    dataset_id = derived_dataset_id(
        {
            "base": base,
            "inputs": sorted(i["sha256"] for i in processed),
            "holdout": cfg.holdout,
            "window": cfg.window_rows,
            "seed": cfg.seed,
        }
    )
    if not registry.has_dataset(dataset_id):
        X_all, _ = prepare_features(training, schema, source="training rows")
        fields = {
            "source": "retrain",
            "base_dataset": base,
            "inputs": processed,
            "holdout": cfg.holdout,
            "window_rows": cfg.window_rows,
            "seed": cfg.seed,
        }
        store_dataset(
            registry,
            dataset_id,
            refresh_statistics(schema, X_all),
            training.reset_index(drop=True),
            holdout.reset_index(drop=True),
            fields,
        )
    log.debug("dataset %s: %d training rows, %d holdout rows", dataset_id, len(training), len(holdout))
    return RetrainDataset(dataset_id, holdout)


# -- 6. the decision: churnctl.lifecycle.champion ---------------------------------------------------------


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
    """One champion/challenger run on the labelled rows of ``data`` (see the module's docstring)."""
    cfg = settings.retrain
    campaign = Campaign.from_settings(settings.value)
    if cfg.metric == "expected_profit" and campaign is None:
        raise UsageError(
            "[retrain] metric = expected_profit needs the value of a customer and the cost of a contact",
            hint="set [value] customer_value (or customer_value_column), contact_cost and incentive_cost, "
            "or pass --value",
        )
    inputs = list_inputs(data)
    result = _retrain_locked(registry, settings, inputs, force, wait, campaign)
    if result.challenger is not None:
        mirror(registry, settings)  # after the lock, as train does
    return result


def _retrain_locked(
    registry: Registry, settings: Settings, inputs: list[Input], force: bool, wait: float, campaign: Campaign | None
) -> RetrainResult:
    cfg = settings.retrain
    with registry.lock(wait):
        registry.check_pointer_agrees()  # the champion is the current model: never one the log does not explain
        complete_interrupted_promotion(registry)
        champion = Scorer.load(registry, settings, eager=True)
        done = processed_hashes(registry)
        new = [i.part for i in inputs if i.sha256 not in done]
        listed = [{"path": i.part.location, "sha256": i.sha256, "processed": i.part in new} for i in inputs]
        finish = _finisher(registry, listed)
        if not new:
            reason = "already processed: every input file was used by an earlier retrain"
            return finish(RetrainResult("skipped", reason, champion.version, None, None, None))
        rows = read_new_rows(new, champion.schema, campaign.columns if campaign else ())
        log.debug("%d new labelled row(s) from %d new file(s)", len(rows), len(new))
        drift = check_drift(registry, settings, champion, rows, force)
        if drift.skip is not None:
            result = RetrainResult("skipped", drift.skip, champion.version, None, None, drift.summary)
            result.warnings = drift.report.warnings
            return finish(result)
        dataset = store_retrain_dataset(registry, champion, rows, cfg, listed)
        trained = train_locked(registry, settings, dataset_id=dataset.dataset_id, promote=False)
        challenger = Scorer.load(registry, settings, trained.version, eager=True)
        decision = decide(champion, challenger, dataset.holdout, cfg, campaign)
        # The event goes first: it marks the files processed and names the version to promote, so
        # a run killed before the pointer moves is completed by the next one (see above).
        result = finish(
            RetrainResult(
                decision.outcome,
                decision.reason,
                champion.version,
                challenger.version,
                decision.metrics,
                drift.summary,
                dataset_id=dataset.dataset_id,
                warnings=drift.report.warnings,
            )
        )
        if decision.outcome == "promoted":
            registry.set_current(challenger.version, reason="retrain")
            result.current = challenger.version
        result.pruned = registry.keep_newest(cfg.keep_versions)
        return result


def _finisher(registry: Registry, inputs: list[dict]) -> Callable[[RetrainResult], RetrainResult]:
    """What ends every run: the inputs and the current model in the result, one ``retrain`` event, the
    warnings logged. Only rows that went into a training count as processed."""

    def finish(result: RetrainResult) -> RetrainResult:
        if result.outcome == "skipped":
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

    return finish
