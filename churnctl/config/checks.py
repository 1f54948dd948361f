"""Range checks of the settings, made when the file is read (not half-way through a run)."""

from __future__ import annotations

from typing import Any

from churnctl.config.settings import DriftSettings, ServeSettings, Settings
from churnctl.config.value import parse_policy
from churnctl.errors import UsageError


# long: one table of every range check, read top to bottom
def validate_ranges(settings: Settings) -> None:
    """Reject out-of-range values when the file is read, not half-way through a run."""
    checks = [
        ("[data] test_size", settings.data.test_size, 0.0 < settings.data.test_size <= 0.5, "a fraction in (0, 0.5]"),
        ("[data] leak_auc", settings.data.leak_auc, 0.5 < settings.data.leak_auc <= 1.0, "a ROC-AUC in (0.5, 1]"),
        ("[data] memory_rows", settings.data.memory_rows, settings.data.memory_rows >= 0, "0 or a number of rows"),
        ("[train] cv_folds", settings.train.cv_folds, settings.train.cv_folds >= 2, "at least 2"),
        ("[train] reference_rows", settings.train.reference_rows, settings.train.reference_rows >= 100, "at least 100"),
        ("[train] time_budget", settings.train.time_budget, settings.train.time_budget > 0, "positive"),
        (
            "[train] selection_rows",
            settings.train.selection_rows,
            settings.train.selection_rows >= 1000,
            "at least 1000",
        ),
        (
            "[train] max_rows",
            settings.train.max_rows,
            settings.train.max_rows == 0 or settings.train.max_rows >= settings.train.selection_rows,
            "0 (every row) or at least [train] selection_rows",
        ),
        (
            "[train] model",
            settings.train.model,
            settings.train.model in ("auto", "logreg", "hgb", "blend"),
            "auto, logreg, hgb or blend",
        ),
        ("[retrain] holdout", settings.retrain.holdout, 0.0 < settings.retrain.holdout < 1.0, "a fraction in (0, 1)"),
        *[
            (f"[drift] {name}", getattr(settings.drift, name), 0.0 <= getattr(settings.drift, name) <= 1.0, "in [0, 1]")
            for name in (
                "categorical_effect",
                "missing_effect",
                "max_auc_drop",
                "estimated_auc_margin",
                "min_drifted_share",
                "min_drifted_importance",
            )
        ],
        *[
            (f"[retrain] {name}", value, 0.0 <= value <= 1.0, "in [0, 1]")
            for name, value in (
                ("min_roc_auc", settings.retrain.min_roc_auc),
                ("min_pr_auc", settings.retrain.min_pr_auc),
            )
        ],
        *[
            (f"[drift] {name}", getattr(settings.drift, name), getattr(settings.drift, name) >= 0.0, "0 or more")
            for name in ("numeric_effect", "prediction_effect")  # in reference standard deviations
        ],
        *[
            (f"[{section}] seed", seed, 0 <= seed <= 2**32 - 1, "an integer in [0, 2**32 - 1]")
            for section, seed in (
                ("data", settings.data.seed),
                ("train", settings.train.seed),
                ("drift", settings.drift.seed),
                ("retrain", settings.retrain.seed),
            )
        ],
        (
            "[retrain] min_improvement",
            settings.retrain.min_improvement,
            -1.0 <= settings.retrain.min_improvement <= 1.0,
            "a ROC-AUC difference in [-1, 1]",
        ),
        ("[retrain] window_rows", settings.retrain.window_rows, settings.retrain.window_rows >= 100, "at least 100"),
        ("[retrain] bootstrap", settings.retrain.bootstrap, settings.retrain.bootstrap >= 0, "0 or more"),
        (
            "[retrain] metric",
            settings.retrain.metric,
            settings.retrain.metric in ("roc_auc", "expected_profit"),
            "roc_auc or expected_profit",
        ),
        ("[retrain] max_p_value", settings.retrain.max_p_value, 0.0 < settings.retrain.max_p_value <= 1.0, "in (0, 1]"),
        (
            "[retrain] keep_versions",
            settings.retrain.keep_versions,
            settings.retrain.keep_versions >= 2,
            "at least 2 (the current and the previous champion)",
        ),
    ]
    high = settings.predict.high_risk
    try:
        ok = high == "auto" or 0.0 < float(high) < 1.0
    except (TypeError, ValueError):
        ok = False
    checks.append(("[predict] high_risk", high, ok, '"auto" or a probability in (0, 1)'))
    parse_policy(settings.train.threshold)  # a usage error naming the policies
    _raise_first(checks)
    validate_serve(settings.serve)


def _raise_first(checks: list[tuple[str, Any, bool, str]], flags: bool = False) -> None:
    for name, value, ok, expected in checks:
        if not ok:
            what = f"{name} {value}" if flags else f"configuration {name} = {value!r}"
            raise UsageError(
                f"{what} is out of range: expected {expected}",
                hint=f"give another {name}" if flags else "fix the value in churnctl.toml",
            )


def validate_serve(serve: ServeSettings, flags: bool = False) -> None:
    """``[serve]`` ranges; with ``flags``, named as the options of ``churnctl serve`` (which override the
    file, already checked when it was read)."""

    def name(key: str) -> str:
        return "--" + key.replace("_", "-") if flags else f"[serve] {key}"

    _raise_first(
        [
            (name("port"), serve.port, 0 <= serve.port <= 65535, "a TCP port in [0, 65535]"),
            (name("workers"), serve.workers, 1 <= serve.workers <= 64, "in [1, 64]"),
            (name("log_rotation"), serve.log_rotation, serve.log_rotation in ("hourly", "daily"), "hourly or daily"),
            (name("log_keep_days"), serve.log_keep_days, serve.log_keep_days >= 0, "0 (keep all) or more"),
            (name("max_body_bytes"), serve.max_body_bytes, serve.max_body_bytes >= 1024, "at least 1024"),
            (name("max_rows"), serve.max_rows, serve.max_rows >= 1, "at least 1"),
            (name("reload_seconds"), serve.reload_seconds, 0.05 <= serve.reload_seconds <= 60, "in [0.05, 60]"),
        ],
        flags,
    )


def validate_drift(drift: DriftSettings) -> DriftSettings:
    if drift.correction not in ("bh", "bonferroni"):
        raise UsageError(f"[drift] correction must be 'bh' or 'bonferroni', found {drift.correction!r}")
    if not 0.0 < drift.alpha < 1.0:
        raise UsageError(f"[drift] alpha must be in (0, 1), found {drift.alpha}")
    if drift.min_rows < 1 or drift.min_drifted_features < 1:
        raise UsageError("[drift] min_rows and min_drifted_features must be at least 1")
    if drift.score_rows != 0 and drift.score_rows < 1000:
        raise UsageError(f"[drift] score_rows must be 0 (every row) or at least 1000, found {drift.score_rows}")
    chunk = drift.chunk
    if chunk is not None and chunk not in ("day", "week", "month") and not (chunk.isdigit() and int(chunk) >= 10):
        raise UsageError(
            f"[drift] chunk must be day, week, month or a number of rows (at least 10), found {chunk!r}",
            hint="e.g. --chunk week (with a time column) or --chunk 5000",
        )
    if drift.reference_chunks != 0 and drift.reference_chunks < 5:
        raise UsageError(
            f"[drift] reference_chunks must be 0 (no bounds) or at least 5, found {drift.reference_chunks}"
        )
    if drift.multivariate_rows != 0 and drift.multivariate_rows < 100:
        raise UsageError(f"[drift] multivariate_rows must be 0 (off) or at least 100, found {drift.multivariate_rows}")
    if drift.history_keep_days < 0:
        raise UsageError(f"[drift] history_keep_days must be 0 (keep all) or more, found {drift.history_keep_days}")
    return drift
