"""drift-check: is a new batch still like the data the model was trained on?"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

from churnctl import tables
from churnctl.config import Settings, validate_drift
from churnctl.drift.distributions import distributions
from churnctl.drift.monitor import DriftMonitor, DriftReport
from churnctl.errors import DataError
from churnctl.features import check_header
from churnctl.lifecycle.results import warn
from churnctl.predlog import PredictionLogReader, is_prediction_log
from churnctl.progress import Progress, no_progress
from churnctl.registry import Registry
from churnctl.registry.artifacts import load_model
from churnctl.registry.files import sha256_file

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
) -> DriftReport:
    """Compare a CSV/Parquet batch, or a prediction log (a folder of ``churnctl serve --log-predictions``
    files, or one of them: :mod:`churnctl.predlog`), with a model version's reference; the verdict is
    in the report.

    ``alpha``, ``correction`` and ``min_rows`` override ``[drift]`` settings. The current file
    streams through in batches; only per-feature counts are kept. Every run is recorded in the
    event log (the drift history of each model version).
    """
    cfg = settings.drift
    if alpha is not None:
        cfg = replace(cfg, alpha=alpha)
    if correction is not None:
        cfg = replace(cfg, correction=correction)
    if min_rows is not None:
        cfg = replace(cfg, min_rows=min_rows)
    validate_drift(cfg)
    model = load_model(registry, version)
    logged = PredictionLogReader(current) if is_prediction_log(current) else None
    header = logged.read_header() if logged else tables.read_header(current)
    check_header(header, model.schema, str(current))
    started = time.monotonic()
    expected = logged.estimate_rows() if logged else tables.estimate_rows(current)
    monitor = DriftMonitor.for_model(registry, model, cfg, expected_rows=expected)
    log.debug(
        "model %s, reference of %d rows loaded in %.1f s; about %s current rows, scoring share %.4f",
        model.version,
        monitor.profile.n_rows,
        time.monotonic() - started,
        expected if expected is not None else "an unknown number of",
        monitor.sample.rate,
    )
    columns = model.schema.feature_names + ([model.schema.target] if model.schema.target in header else [])
    numeric = model.schema.numeric_names
    batches = (
        logged.frames(columns, batch_rows)
        if logged
        else tables.iter_table(current, columns=columns, batch_rows=batch_rows, numeric=numeric)
    )
    for batch in batches:
        monitor.update(batch, source=str(current))
        progress("checking rows", monitor.n_rows, None)
    if monitor.n_rows == 0:
        raise DataError(f"{current} has a header but no data rows")
    log.debug(
        "%d rows read and summarised, %d scored: %.1f s", monitor.n_rows, monitor.n_scored, time.monotonic() - started
    )
    report = monitor.report()
    if logged:
        report.warnings += logged.warnings()
    if keep_distributions:  # for an HTML report: binned reference and current shares per feature
        report.distributions = distributions(monitor.accumulators, monitor.scores)
    unrecorded = registry.record_if_writable(
        "drift_checked",
        model_version=model.version,
        current=str(Path(current).resolve()),
        current_sha256=logged.sha256() if logged else sha256_file(current),
        n_current=report.n_current,
        status=report.status,
        drift_detected=report.drift_detected,
        drifted_features=report.drifted_features,
        share_drifted=report.share_drifted,
        prediction_drift=report.prediction_drift.drift,
        performance_drift=bool(report.performance and report.performance.drift),
        estimated_roc_auc=report.estimated_performance.roc_auc,
        estimated_drop=report.estimated_performance.drop_detected,
        reasons=report.reasons,
    )
    if unrecorded:
        report.warnings.append(unrecorded)
    warn(report.warnings)
    return report
