"""drift-check: is a new batch still like the data the model was trained on?"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from churnctl.config import DriftSettings, Settings, validate_drift
from churnctl.contract.frames import check_header, prepare_features
from churnctl.data.predlog_reader import LogReading, is_prediction_log, log_source
from churnctl.data.sources import Source, resolve
from churnctl.drift.distributions import distributions
from churnctl.drift.monitor import DriftMonitor, DriftReport
from churnctl.drift.partial import DriftJob, drift_part, monitor_for
from churnctl.drift.profile import ReferenceProfile
from churnctl.errors import DataError
from churnctl.lifecycle.results import warn
from churnctl.model.loading import load_reference
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
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
    progress: Progress = no_progress,
    keep_distributions: bool = False,
    engine: Engine | None = None,
) -> DriftReport:
    """Compare the current data with a model version's reference; the verdict is in the report.

    ``current``: a CSV/Parquet file, a folder or glob of them, or a URL (:mod:`churnctl.data.sources`),
    summarised part by part on ``engine`` (default: this process) and merged; or a prediction log
    of ``churnctl serve --log-predictions`` (:mod:`churnctl.data.predlog`). ``alpha``, ``correction``
    and ``min_rows`` override ``[drift]`` settings. Only per-feature counts and a sample of scores
    are kept. Every run is recorded in the event log (the drift history of each model version).
    """
    cfg = settings.drift
    if alpha is not None:
        cfg = replace(cfg, alpha=alpha)
    if correction is not None:
        cfg = replace(cfg, correction=correction)
    if min_rows is not None:
        cfg = replace(cfg, min_rows=min_rows)
    validate_drift(cfg)
    engine = engine or LocalEngine()
    model = Scorer.load(registry, settings, version, eager=True)
    started = time.monotonic()
    logged = is_prediction_log(current)
    source = log_source(current, model.schema, set(registry.versions())) if logged else resolve(current)
    campaign = Campaign.from_settings(settings.value)
    monitor, digest, reading = _summarise(model, registry, cfg, source, batch_rows, progress, engine, campaign)
    warnings = []
    if logged:
        reading.check(str(current))
        warnings = reading.warnings()
    where = source.where
    if monitor.n_rows == 0:
        raise DataError(f"{current} has a header but no data rows")
    log.debug(
        "%d rows read and summarised, %d scored (share %.4f): %.1f s",
        monitor.n_rows,
        monitor.n_scored,
        monitor.sample.rate,
        time.monotonic() - started,
    )
    report = monitor.report()
    report.warnings += warnings
    if keep_distributions:  # for an HTML report: binned reference and current shares per feature
        report.distributions = distributions(monitor.accumulators, monitor.scores)
    unrecorded = registry.record_if_writable(
        "drift_checked",
        model_version=model.version,
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
        reasons=report.reasons,
        engine=engine.name,
    )
    if unrecorded:
        report.warnings.append(unrecorded)
    warn(report.warnings)
    return report


def reference_profile(registry: Registry, model: Scorer) -> ReferenceProfile:
    """The drift reference of a model version, from its stored files (never the original CSV)."""
    reference, scores = load_reference(registry, model.pipeline)
    X_ref, _ = prepare_features(reference, model.schema, source=f"reference of {model.version}")
    return ReferenceProfile.build(model.schema, X_ref, scores)


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


def _summarise(
    model: Scorer,
    registry: Registry,
    cfg: DriftSettings,
    source: Source,
    batch_rows: int,
    progress: Progress,
    engine: Engine,
    campaign: Campaign | None = None,
) -> tuple[DriftMonitor, str, LogReading]:
    """Every part summarised on ``engine`` and merged in input order; the digest of what was read and
    what reading found (a prediction log's skipped records)."""
    check_header(source.read_header(), model.schema, source.parts[0].name)  # fail early, before the work
    expected = source.estimate_rows()
    job = DriftJob(model, reference_profile(registry, model), cfg, expected, batch_rows, campaign=campaign)
    job.progress = progress if engine.in_process else None  # a cluster reports progress part by part
    monitor = monitor_for(job)
    log.debug(
        "model %s; %d part(s), about %s current rows, scoring share %.4f",
        model.version,
        len(source.parts),
        expected if expected is not None else "an unknown number of",
        monitor.sample.rate,
    )
    # Where each part's scoring draws start: counted first on a cluster, only when the sample is a fraction.
    partials = engine.map_parts(drift_part, source.parts, job, offsets=monitor.sample.rate < 1.0)
    reading = LogReading()
    for partial in partials:
        monitor.merge(partial.state)
        if isinstance(partial.reading, LogReading):
            reading.add(partial.reading)
        if not engine.in_process:
            progress("checking rows", monitor.n_rows, None)
    return monitor, source.sha256([p.sha256 or "" for p in partials]), reading
