"""Metrics files for dashboards: a command's result in the Prometheus text format.

``--metrics-file FILE.prom`` on evaluate, drift-check and retrain writes the run's figures for the
node_exporter textfile collector (or any scraper of that format). The file is built and written by
prometheus-client (``write_to_textfile`` writes a temporary file beside it and renames it, so a
scraper never reads half a file). Every file has ``churnctl_last_run_timestamp_seconds{command}``
and ``churnctl_current_model_info{version,command}`` (labelled by command, so that the files of several
commands in one collector folder never repeat a series); the rest depends on the command (see
:data:`METRICS`). Names follow Prometheus conventions; label values come from the registry (model
versions) and the user's columns (feature names), which the client escapes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from churnctl.data.outputs import check_output_file
from churnctl.errors import output_error

METRICS = {  # name: (help, labels), the whole vocabulary of the files churnctl writes
    "churnctl_last_run_timestamp_seconds": ("Unix time at which this churnctl command finished.", ("command",)),
    "churnctl_current_model_info": ("The model version in production (value 1).", ("version", "command")),
    "churnctl_model_roc_auc": ("ROC-AUC of a model version on the rows just evaluated.", ("version", "command")),
    "churnctl_model_pr_auc": ("PR-AUC of a model version on the rows just evaluated.", ("version",)),
    "churnctl_model_brier": ("Brier score of a model version on the rows just evaluated.", ("version",)),
    "churnctl_model_ece": ("Expected calibration error of a model version on the rows just evaluated.", ("version",)),
    "churnctl_evaluated_rows": ("Labelled rows the last evaluation used.", ("version",)),
    "churnctl_model_profit_per_customer": (
        "Campaign profit per customer on the rows just evaluated ([value] settings), at the model's threshold "
        "or at the most profitable one.",
        ("version", "at"),
    ),
    "churnctl_model_emp_per_customer": (
        "Expected maximum profit (EMP) per customer on the rows just evaluated.",
        ("version",),
    ),
    "churnctl_drift_detected": ("1 when the last drift check detected drift, else 0.", ()),
    "churnctl_drift_insufficient_data": ("1 when the last drift check had too few rows for a verdict.", ()),
    "churnctl_share_features_drifted": ("Share of features that drifted in the last drift check.", ()),
    "churnctl_feature_drift_effect": (
        "Effect size of each feature's drift (Wasserstein/SD or Jensen-Shannon).",
        ("feature",),
    ),
    "churnctl_feature_drifted": ("1 for each feature that drifted in the last drift check.", ("feature",)),
    "churnctl_prediction_drift_effect": ("Shift of the churn probabilities, in reference standard deviations.", ()),
    "churnctl_current_rows": ("Rows of the batch the last drift check read.", ()),
    "churnctl_estimated_roc_auc": ("ROC-AUC estimated without labels (CBPE) on the last batch.", ()),
    "churnctl_estimated_roc_auc_reference": ("CBPE ROC-AUC on the model's held-out test rows.", ()),
    "churnctl_estimated_drop_detected": ("1 when CBPE detected a performance drop on the last batch.", ()),
    "churnctl_estimated_profit_per_customer": (
        "Campaign profit per customer on the last batch, estimated without labels ([value] settings), with its "
        "95% band.",
        ("bound",),
    ),
    "churnctl_realised_profit_per_customer": ("Campaign profit per customer on the last batch's labelled rows.", ()),
    "churnctl_retrain_outcome": (
        "1 for the outcome of the last retrain (promoted, rejected, skipped), else 0.",
        ("outcome",),
    ),
    "churnctl_retrain_holdout_roc_auc": ("ROC-AUC on the new held-out rows of the last retrain.", ("role", "version")),
}
RETRAIN_OUTCOMES = ("promoted", "rejected", "skipped")


def check_metrics_path(path: Path) -> None:
    """Fail before the work when the metrics file could not be written: its folder must exist."""
    collector = "/var/lib/node_exporter/textfile/churnctl.prom"
    check_output_file(path, "--metrics-file", f"a file in the textfile collector's folder, e.g. {collector}")


def values(command: str, result: Any, current: str | None) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples of one run as {metric name: [(labels, value), ...]}."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {name: [] for name in METRICS}
    out["churnctl_last_run_timestamp_seconds"].append(({"command": command}, time.time()))
    if current:
        out["churnctl_current_model_info"].append(({"version": current, "command": command}, 1.0))

    def put(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            out[name].append((labels, float(value)))

    if command == "evaluate":
        m, version = result.metrics, result.model_version
        put("churnctl_model_roc_auc", m.get("roc_auc"), version=version, command=command)
        for key in ("pr_auc", "brier", "ece"):
            put(f"churnctl_model_{key}", m.get(key), version=version)
        put("churnctl_evaluated_rows", m.get("n_rows"), version=version)
        if result.value:
            for at in ("at_threshold", "best"):
                put(
                    "churnctl_model_profit_per_customer",
                    result.value[at]["profit_per_customer"],
                    version=version,
                    at=at,
                )
            if result.value.get("emp"):
                put("churnctl_model_emp_per_customer", result.value["emp"]["emp_per_customer"], version=version)
    elif command == "drift-check":
        put("churnctl_drift_detected", float(result.drift_detected))
        put("churnctl_drift_insufficient_data", float(result.status == "insufficient_data"))
        put("churnctl_share_features_drifted", result.share_drifted)
        put("churnctl_current_rows", result.n_current)
        for name, feature in result.features.items():
            put("churnctl_feature_drift_effect", feature.effect_size, feature=name)
            put("churnctl_feature_drifted", float(feature.drift), feature=name)
        put("churnctl_prediction_drift_effect", result.prediction_drift.effect_size)
        estimate = result.estimated_performance
        if estimate is not None:
            put("churnctl_estimated_roc_auc", estimate.roc_auc)
            put("churnctl_estimated_roc_auc_reference", estimate.reference_roc_auc)
            put("churnctl_estimated_drop_detected", float(estimate.drop_detected))
        if result.performance is not None:
            put("churnctl_model_roc_auc", result.performance.roc_auc, version=result.model_version, command=command)
        money = result.estimated_profit
        if money is not None:
            for bound, amount in (("estimate", money.profit_per_customer), ("low", money.low), ("high", money.high)):
                put("churnctl_estimated_profit_per_customer", amount, bound=bound)
            put("churnctl_realised_profit_per_customer", money.realised_per_customer)
    elif command == "retrain":
        for outcome in RETRAIN_OUTCOMES:
            put("churnctl_retrain_outcome", float(result.outcome == outcome), outcome=outcome)
        if result.metrics:
            for role, version in (("champion", result.champion), ("challenger", result.challenger)):
                put("churnctl_retrain_holdout_roc_auc", result.metrics[role].get("roc_auc"), role=role, version=version)
    else:
        raise ValueError(f"no metrics for command {command!r}")
    return {name: samples for name, samples in out.items() if samples}


def write_metrics_file(path: Path, command: str, result: Any, current: str | None) -> None:
    """Write the run's metrics to ``path`` atomically (prometheus-client's ``write_to_textfile``)."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    for name, samples in values(command, result, current).items():
        help_text, labels = METRICS[name]
        gauge = Gauge(name, help_text, labels, registry=registry)
        for label_values, value in samples:
            (gauge.labels(**label_values) if labels else gauge).set(value)
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise output_error(f"--metrics-file {path}", exc, "check the path") from None
