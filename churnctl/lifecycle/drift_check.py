"""drift-check: is a new batch still like the data the model was trained on?"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from churnctl.config import DriftSettings, Settings, validate_drift
from churnctl.contract.frames import check_header, prepare_features
from churnctl.data.predlog_reader import LOGGED_AT, LogReading, LogSource, is_prediction_log, log_source
from churnctl.data.sources import Source, resolve
from churnctl.drift.bounds import reference_bounds
from churnctl.drift.chunks import Chunked, Chunking, chunk_summary
from churnctl.drift.distributions import distributions
from churnctl.drift.monitor import DriftMonitor, DriftReport
from churnctl.drift.multivariate import MultivariateReference
from churnctl.drift.partial import DriftJob, chunked_for, drift_part, monitor_for
from churnctl.drift.profile import ReferenceProfile
from churnctl.errors import DataError
from churnctl.lifecycle.results import warn
from churnctl.model.loading import load_reference
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
from churnctl.registry.history import History
from churnctl.registry.store import now
from churnctl.runtime.engine import Engine, LocalEngine
from churnctl.runtime.progress import Progress, no_progress
from churnctl.value.campaign import Campaign

log = logging.getLogger(__name__)


def drift_check(
    registry: Registry,
    settings: Settings,
    current: str,
    *,
    version: str | None = None,
    batch_rows: int = 100_000,
    alpha: float | None = None,
    correction: str | None = None,
    min_rows: int | None = None,
    chunk: str | None = None,
    time_column: str | None = None,
    progress: Progress = no_progress,
    keep_distributions: bool = False,
    engine: Engine | None = None,
) -> DriftReport:
    """Compare the current data with a model version's reference; the verdict is in the report.

    ``current``: a CSV/Parquet file, a folder or glob of them, or a URL (:mod:`churnctl.data.sources`),
    summarised part by part on ``engine`` (default: this process) and merged; or a prediction log
    of ``churnctl serve --log-predictions`` (:mod:`churnctl.data.predlog`). ``alpha``, ``correction``,
    ``min_rows``, ``chunk`` and ``time_column`` override ``[drift]`` settings. With chunks, each chunk
    is checked too (``report.chunks``, in time order). Only per-feature counts and samples are kept.
    Every run is recorded in the event log and its result kept in the history (:mod:`churnctl.registry.history`).
    """
    cfg = settings.drift
    overrides: dict[str, Any] = {"alpha": alpha, "correction": correction, "min_rows": min_rows, "chunk": chunk}
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if time_column is not None:
        cfg = replace(cfg, time_column=time_column)
    validate_drift(cfg)
    engine = engine or LocalEngine()
    model = Scorer.load(registry, settings, version, eager=True)
    started = time.monotonic()
    logged = is_prediction_log(current)
    source = log_source(current, model.schema, set(registry.versions())) if logged else resolve(current)
    job = _job(registry, model, cfg, source, batch_rows, Campaign.from_settings(settings.value))
    chunked, digest, reading = _summarise(job, source, progress, engine)
    warnings = []
    if logged:
        reading.check(str(current))
        warnings = reading.warnings()
    if chunked.n_rows == 0:
        raise DataError(f"{current} has a header but no data rows")
    report = _reports(job, chunked, progress)
    log.debug("%d rows checked: %.1f s", chunked.n_rows, time.monotonic() - started)
    report.warnings += warnings
    if keep_distributions:  # for an HTML report: binned reference and current shares per feature
        whole = chunked.whole()
        report.distributions = distributions(whole.accumulators, whole.scores)
    _record(registry, report, model.version, source.where, digest, engine.name, cfg.history_keep_days)
    warn(report.warnings)
    return report


def _job(
    registry: Registry, model: Scorer, cfg: DriftSettings, source: Source, batch_rows: int, campaign: Campaign | None
) -> DriftJob:
    """What every part is summarised with: the reference, the chunks, the domain classifier's sample."""
    check_header(source.read_header(), model.schema, source.parts[0].name)  # fail early, before the work
    reference, profile = reference_data(registry, model)
    # a prediction log is timed by its answers unless a time column of the inputs is named
    default_time = LOGGED_AT if isinstance(source, LogSource) else model.schema.time_column
    chunking = Chunking.parse(cfg.chunk, cfg.time_column or default_time)
    joint = None
    if cfg.multivariate_rows:
        recorded = model.manifest.get("multivariate_reference")  # measured by train, for its settings
        joint = MultivariateReference.build(reference, model.schema, cfg.multivariate_rows, cfg.seed, recorded)
    job = DriftJob(model, profile, cfg, source.estimate_rows(), batch_rows, campaign=campaign, chunking=chunking)
    job.multivariate, job.reference = joint, reference
    return job


def _summarise(job: DriftJob, source: Source, progress: Progress, engine: Engine) -> tuple[Chunked, str, LogReading]:
    """Every part summarised on ``engine`` and merged in input order; the digest of what was read and
    what reading found (a prediction log's skipped records)."""
    job.progress = progress if engine.in_process else None  # a cluster reports progress part by part
    chunked = chunked_for(job)
    sampled = not job.chunking.chunked and monitor_for(job).sample.rate < 1.0
    # Where each part's rows start (a cluster counts them first): for the scoring sample, the row
    # chunks and the domain classifier's sample, which follow rows' positions in the whole input.
    offsets = sampled or job.chunking.rows is not None or job.multivariate is not None
    partials = engine.map_parts(drift_part, source.parts, job, offsets=offsets)
    reading = LogReading()
    for partial in partials:
        chunked.merge(partial.state)
        if isinstance(partial.reading, LogReading):
            reading.add(partial.reading)
        if not engine.in_process:
            progress("checking rows", chunked.n_rows, None)
    return chunked, source.sha256([p.sha256 or "" for p in partials]), reading


def _reports(job: DriftJob, chunked: Chunked, progress: Progress) -> DriftReport:
    """The whole batch's report, with each chunk's (time order) when it is chunked; every one judged
    with the bounds of reference chunks of the chunks' (or the batch's) size."""
    keys = chunked.ordered() if job.chunking.chunked else []
    sizes = [chunked.monitors[k].n_rows for k in keys] or [chunked.n_rows]
    bounds = reference_bounds(
        job.reference, int(np.median(sizes)), job.settings.reference_chunks, job.settings.seed, _checker(job)
    )
    whole = chunked.whole()
    whole.bounds = bounds if not keys else None  # the whole of a chunked batch is not a chunk
    report = whole.report()
    report.time_range = chunked.time_range()
    if keys:
        report.chunking = job.chunking.describe()
        report.chunks = []
        for i, key in enumerate(keys):
            progress("checking chunks", i, len(keys))
            monitor = chunked.monitors[key]
            monitor.bounds = bounds
            first, last = chunked.times.get(key, (None, None))
            shown = job.chunking.label(key, monitor.n_rows)
            report.chunks.append(chunk_summary(shown, job.chunking.end(key), monitor.report(), first, last))
        report.bounds = bounds
    return report


def _checker(job: DriftJob) -> Callable[[pd.DataFrame, pd.DataFrame], DriftReport]:
    """A reference chunk checked against other reference rows as a current chunk is checked against the
    reference (every row scored; the model's test-split scores for the predictions; no classifier, no
    bounds)."""
    plain = replace(job.settings, multivariate_rows=0)
    importance = job.model.manifest.get("feature_importance")

    def check(frame: pd.DataFrame, against: pd.DataFrame) -> DriftReport:
        profile = replace(ReferenceProfile.build(job.model.schema, against, np.empty(0)), scores=job.profile.scores)
        monitor = DriftMonitor(job.model, profile, plain, importance=importance)
        monitor.update(frame, source="the reference")
        return monitor.report()

    return check


def _record(
    registry: Registry, report: DriftReport, version: str, where: str, digest: str, engine: str, keep_days: int
) -> None:
    """The run in the event log and its result in the history, where the registry can be written."""
    unrecorded = registry.record_if_writable(
        "drift_checked",
        model_version=version,
        current=where,
        current_sha256=digest,
        n_current=report.n_current,
        status=report.status,
        drift_detected=report.drift_detected,
        drifted_features=report.drifted_features,
        share_drifted=report.share_drifted,
        prediction_drift=report.prediction_drift.drift,
        performance_drift=bool(report.performance and report.performance.drift),
        estimated_roc_auc=report.estimated_performance.roc_auc,
        estimated_drop=report.estimated_performance.drop_detected,
        estimated_profit_per_customer=report.estimated_profit.profit_per_customer if report.estimated_profit else None,
        multivariate_drift=bool(report.multivariate and report.multivariate.drift),
        chunks=len(report.chunks) if report.chunks else None,
        reasons=report.reasons,
        engine=engine,
    )
    if unrecorded:
        report.warnings.append(unrecorded)
    history = History(registry.root, keep_days)
    kept = history.keep(report.to_dict(), current=where, current_sha256=digest, when=now())
    if kept is not None:
        report.warnings.append(kept)


def reference_data(registry: Registry, model: Scorer) -> tuple[pd.DataFrame, ReferenceProfile]:
    """The drift reference of a model version, from its stored files (never the original CSV): its
    rows, typed, and their profile."""
    reference, scores = load_reference(registry, model.pipeline)
    X_ref, _ = prepare_features(reference, model.schema, source=f"reference of {model.version}")
    return X_ref, ReferenceProfile.build(model.schema, X_ref, scores)


def reference_profile(registry: Registry, model: Scorer) -> ReferenceProfile:
    return reference_data(registry, model)[1]


def drift_monitor(
    registry: Registry, model: Scorer, settings: DriftSettings, expected_rows: int | None = None
) -> DriftMonitor:
    """A monitor against ``model``'s stored reference, weighted by the permutation importance recorded
    at training (retrain checks its new rows with one)."""
    return DriftMonitor(
        model,
        reference_profile(registry, model),
        settings,
        importance=model.manifest.get("feature_importance"),
        expected_rows=expected_rows,
    )
