"""Settings from ``churnctl.toml``; command-line flags override them.

Lookup order for the file: ``--config FILE``, then ``$CHURNCTL_CONFIG``, then ``./churnctl.toml``.
Unknown sections or keys are rejected so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from churnctl.errors import UsageError


@dataclass(frozen=True)
class DataSettings:
    target: str | None = None
    positive: str | None = None
    test_size: float = 0.2
    seed: int = 42
    # A feature whose ROC-AUC alone reaches this on the training split is a suspected leak (excluded).
    leak_auc: float = 0.97
    keep_columns: tuple[str, ...] = ()  # kept as features whatever the leak and identifier guards say
    group_column: str | None = None  # rows of one value stay on one side of the split and in one fold
    time_column: str | None = None  # the test split is the newest rows; folds go forward in time
    test_from: str | None = None  # with time_column: the test split starts at this date (or number)


@dataclass(frozen=True)
class TrainSettings:
    model: str = "auto"
    seed: int = 42
    cv_folds: int = 5
    # Seconds the auto model search may spend; the two baseline candidates always run.
    time_budget: float = 600.0
    # "f1" (best F1 on out-of-fold predictions), "youden" (max TPR - FPR) or a fixed probability.
    threshold: str | float = "f1"
    # Rows of training features kept, exactly, as the drift reference of each model version.
    reference_rows: int = 50_000
    # Larger training splits are searched on a stratified sample of this many rows; the chosen
    # candidate is fitted on all rows.
    selection_rows: int = 100_000


@dataclass(frozen=True)
class PredictSettings:
    # Risk levels follow the model's decision threshold t: "low" below t (label 0), "medium" from t,
    # "high" from this probability (above t), or with "auto" from halfway between t and 1.
    high_risk: str | float = "auto"


@dataclass(frozen=True)
class DriftSettings:
    """Defaults and their rationale: churnctl/drift/monitor.py and the README."""

    alpha: float = 0.05
    correction: str = "bh"  # bh (Benjamini-Hochberg) | bonferroni
    min_rows: int = 100
    numeric_effect: float = 0.1  # Wasserstein-1 distance in reference standard deviations
    categorical_effect: float = 0.05  # Jensen-Shannon distance, base 2
    missing_effect: float = 0.02  # absolute change of the missing rate
    prediction_effect: float = 0.1  # Wasserstein-1 of churn probabilities, in reference SDs
    max_auc_drop: float = 0.05
    min_drifted_features: int = 1
    min_drifted_share: float = 0.0
    min_drifted_importance: float = 0.0
    # Prediction and performance drift score a uniform random sample of about this many current
    # rows (0: every row); the feature tests always count every row.
    score_rows: int = 100_000
    # A ROC-AUC estimated without labels (CBPE) this far below the model's test ROC-AUC, with the
    # estimate's band excluding the test value, counts as a performance drop.
    estimated_auc_margin: float = 0.03
    seed: int = 42  # of that sample: the same file gives the same report


@dataclass(frozen=True)
class RetrainSettings:
    holdout: float = 0.3  # share of the NEW labelled rows held out to compare champion and challenger
    window_rows: int = 500_000  # most recent training rows kept (previous training rows, then new ones)
    min_improvement: float = 0.01  # challenger ROC-AUC must beat the champion's by this much
    bootstrap: int = 1000  # paired bootstrap resamples of the holdout; 0 skips the test
    max_p_value: float = 0.05  # one-sided bootstrap p-value that the challenger is not better
    min_roc_auc: float = 0.0  # absolute floors the challenger must pass
    min_pr_auc: float = 0.0
    keep_versions: int = 20  # model versions kept; the current and previous champion never pruned
    seed: int = 42


@dataclass(frozen=True)
class ValueSettings:
    """What keeping a customer is worth and what a retention contact costs (the README's "Decisions worth
    money"). Unset (no customer value): churnctl reports no money, as before."""

    customer_value: float | None = None  # the value of keeping one customer (e.g. a year's margin)
    customer_value_column: str | None = None  # or a numeric column of the data, per customer ...
    value_horizon: float = 1.0  # ... times this (e.g. 12 for a monthly charge counted over a year)
    contact_cost: float = 0.0  # paid for every customer contacted
    incentive_cost: float = 0.0  # paid for every contacted customer who takes the offer
    # Share of contacted would-be churners who stay: a number, or {alpha, beta} of a Beta distribution
    # (the expected maximum profit measure integrates over it; figures at one rate use its mean).
    acceptance_rate: float | dict = 0.3

    @property
    def enabled(self) -> bool:
        return self.customer_value is not None or self.customer_value_column is not None


@dataclass(frozen=True)
class ServeSettings:
    """``churnctl serve``; its flags override the first five."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_rotation: str = "daily"  # prediction log files: hourly | daily
    log_keep_days: int = 0  # prediction log day folders kept (0: all)
    max_body_bytes: int = 1_048_576  # larger requests get 413
    max_rows: int = 10_000  # requests with more rows get 413
    reload_seconds: float = 0.5  # how often the current model pointer is checked


@dataclass(frozen=True)
class SecuritySettings:
    # File holding the key that signs manifests (default: $XDG_CONFIG_HOME/churnctl/signing.key);
    # $CHURNCTL_SIGNING_KEY, when set, is the key itself and takes precedence. A relative path is
    # relative to this settings file.
    key_file: str | None = None


@dataclass(frozen=True)
class Settings:
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    predict: PredictSettings = field(default_factory=PredictSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    retrain: RetrainSettings = field(default_factory=RetrainSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    value: ValueSettings = field(default_factory=ValueSettings)
    source: Path | None = None


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    where = f"[{section}] {key}"
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif key == "keep_columns":
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        value = tuple(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        value = tuple(float(v) for v in value) if ok else value
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif key == "key_file":
        ok = isinstance(value, str) and value != ""
    elif key in ("target", "positive", "group_column", "time_column", "test_from"):  # text, even if numeric
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        value = str(value) if ok else value
    else:  # str, or a field that takes a string or a number (threshold)
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if not ok:
        expected = "a finite number" if isinstance(default, float) else type(default).__name__
        raise UsageError(
            f"configuration {where} has the wrong type: expected {expected}, found {value!r}",
            hint="fix the value in churnctl.toml",
        )
    return value


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    explicit = path or os.environ.get("CHURNCTL_CONFIG")
    candidate = Path(explicit) if explicit else Path("churnctl.toml")
    if not candidate.exists():
        if explicit:
            raise UsageError(
                f"configuration file {candidate} does not exist",
                hint="pass an existing file to --config or unset CHURNCTL_CONFIG",
            )
        return Settings()
    try:
        raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"cannot read configuration file {candidate}: {exc}", hint="check the TOML syntax") from None
    sections: dict[str, type] = {
        "data": DataSettings,
        "train": TrainSettings,
        "predict": PredictSettings,
        "drift": DriftSettings,
        "retrain": RetrainSettings,
        "serve": ServeSettings,
        "security": SecuritySettings,
        "value": ValueSettings,
    }
    built: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in sections:
            raise UsageError(
                f"unknown section [{name}] in {candidate}", hint=f"known sections: {', '.join(sorted(sections))}"
            )
        if not isinstance(value, dict):
            raise UsageError(f"{name} in {candidate} must be a [section]")
        cls = sections[name]
        defaults = cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if name == "predict" and "risk_bands" in unknown:
            raise UsageError(
                f"[predict] risk_bands in {candidate} is no longer read: risk levels now follow each model's "
                "decision threshold (low below it, medium from it, high from [predict] high_risk)",
                hint='replace risk_bands with high_risk = <probability> (or "auto"), see the README',
            )
        if unknown:
            raise UsageError(
                f"unknown key(s) {', '.join(unknown)} in [{name}] of {candidate}",
                hint=f"known keys: {', '.join(sorted(known))}",
            )
        if name == "value":
            built[name] = value_settings(value, f"[value] in {candidate}")
            continue
        built[name] = cls(**{k: _coerce(name, k, v, getattr(defaults, k)) for k, v in value.items()})
    key_file = built.get("security", SecuritySettings()).key_file
    if key_file is not None and not Path(key_file).expanduser().is_absolute():
        built["security"] = SecuritySettings(key_file=str(candidate.parent / key_file))
    settings = Settings(**built, source=candidate)
    validate_drift(settings.drift)
    _validate_ranges(settings)
    return settings


# long: one table of every range check, read top to bottom
def _validate_ranges(settings: Settings) -> None:
    """Reject out-of-range values when the file is read, not half-way through a run."""
    checks = [
        ("[data] test_size", settings.data.test_size, 0.0 < settings.data.test_size <= 0.5, "a fraction in (0, 0.5]"),
        ("[data] leak_auc", settings.data.leak_auc, 0.5 < settings.data.leak_auc <= 1.0, "a ROC-AUC in (0.5, 1]"),
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
    return drift


POLICY_NAMES = ("f1", "youden", "profit")
POLICIES = "'f1', 'youden', 'profit', 'top:SHARE' (e.g. top:0.1), 'budget:AMOUNT' (e.g. budget:5000) or a probability"


@dataclass(frozen=True)
class Policy:
    kind: str  # f1 | youden | fixed | profit | top | budget
    amount: float | None = None  # the probability, share or budget

    @property
    def needs_value(self) -> bool:
        return self.kind in ("profit", "budget")

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.amount:g}"
        return f"{self.kind}:{self.amount:g}" if self.amount is not None else self.kind


def parse_policy(text: str | float) -> Policy:
    """A policy from ``[train] threshold``; a usage error (exit 2) names what is accepted."""
    raw = str(text).strip()
    if raw in POLICY_NAMES:
        return Policy(raw)
    kind, sep, amount = raw.partition(":")
    try:
        number = float(amount if sep else raw)
    except ValueError:
        number = math.nan
    if not sep and math.isfinite(number) and 0 < number < 1:
        return Policy("fixed", number)
    if kind == "top" and math.isfinite(number) and 0 < number <= 1:
        return Policy("top", number)
    if kind == "budget" and math.isfinite(number) and number > 0:
        return Policy("budget", number)
    raise UsageError(f"threshold policy {raw!r} is not one of {POLICIES}", hint="fix [train] threshold")


VALUE_KEYS = tuple(f.name for f in dataclasses.fields(ValueSettings))


def value_settings(raw: dict[str, Any], where: str, base: ValueSettings | None = None) -> ValueSettings:
    """``[value]`` settings from ``raw`` (over ``base``), each checked: ``where`` names the source in
    messages (the file's section, or the --value options)."""
    fields: dict[str, Any] = dataclasses.asdict(base or ValueSettings())
    for key, value in raw.items():
        if key not in VALUE_KEYS:
            raise UsageError(f"unknown key {key!r} in {where}", hint=f"known keys: {', '.join(VALUE_KEYS)}")
        fields[key] = _value_field(key, value, where)
    if fields["customer_value"] is not None and fields["customer_value_column"] is not None:
        raise UsageError(
            f"{where}: customer_value and customer_value_column are both set",
            hint="give one value for every customer, or the column that holds each customer's value",
        )
    return ValueSettings(**fields)


def _value_field(key: str, value: Any, where: str) -> Any:
    def bad(expected: str) -> UsageError:
        return UsageError(f"{where}: {key} = {value!r} is not {expected}", hint=f"give {key} as {expected}")

    def number(x: Any) -> float | None:
        ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        return float(x) if ok else None

    if key == "customer_value_column":
        if not isinstance(value, str) or not value:
            raise bad("a column name")
        return value
    if key == "acceptance_rate":
        if isinstance(value, dict):
            shape = {k: number(v) for k, v in value.items()}
            if set(shape) != {"alpha", "beta"} or not all(v is not None and v > 0 for v in shape.values()):
                raise bad("a share in (0, 1] or a Beta distribution {alpha = A, beta = B} with A, B > 0")
            return shape
        rate = number(value)
        if rate is None or not 0 < rate <= 1:
            raise bad("a share in (0, 1] or a Beta distribution {alpha = A, beta = B} with A, B > 0")
        return rate
    amount = number(value)
    if key in ("customer_value", "value_horizon"):
        if amount is None or amount <= 0:
            raise bad("a positive number")
        return amount
    if amount is None or amount < 0:  # contact_cost, incentive_cost
        raise bad("a number, 0 or more")
    return amount


def value_options(settings: Settings, options: list[str] | None) -> Settings:
    """``settings`` with ``--value KEY=VALUE`` options applied over ``[value]`` (e.g. ``customer_value=1200``,
    ``acceptance_rate=0.3`` or ``acceptance_rate=beta:6,14``)."""
    if not options:
        return settings
    raw: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key, text = key.strip().replace("-", "_"), text.strip()
        if not sep or not key or not text:
            raise UsageError(f"--value {option!r} is not KEY=VALUE", hint="for example --value customer_value=1200")
        raw[key] = _option_value(key, text)
    base = settings.value
    if "customer_value" in raw:  # one replaces the other
        base = dataclasses.replace(base, customer_value_column=None)
    if "customer_value_column" in raw:
        base = dataclasses.replace(base, customer_value=None)
    return dataclasses.replace(settings, value=value_settings(raw, "--value", base))


def _option_value(key: str, text: str) -> Any:
    if key == "customer_value_column":
        return text
    if key == "acceptance_rate" and text.lower().startswith("beta:"):
        alpha, _, beta = text[5:].partition(",")
        try:
            return {"alpha": float(alpha), "beta": float(beta)}
        except ValueError:
            return text
    try:
        return float(text)
    except ValueError:
        return text
