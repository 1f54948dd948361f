"""The settings, section by section, with their defaults (``churnctl.toml``; see the README)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    # Inputs of more rows than this are ingested in passes over their parts, never whole in memory
    # (0: always whole); about 1 GB of memory per million rows of a dozen columns when whole.
    memory_rows: int = 1_000_000


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
    # candidate is fitted on all rows (up to max_rows).
    selection_rows: int = 100_000
    # Training splits beyond this many rows are fitted on a stratified (or grouped) sample of it: the
    # fitted pipeline and its copies during the fit stay near 1-2 GB on a dozen features, and a churn
    # model's held-out ROC-AUC has long stopped moving (0: every row).
    max_rows: int = 2_000_000


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
    # Chunks: "day", "week", "month" (of time_column) or a number of rows; none: the batch as one.
    chunk: str | None = None
    time_column: str | None = None  # default: the dataset's time column (ingest --time-column), if any
    # Alert bounds from the reference period: the reference split into this many chunks of the current
    # chunks' size; each metric's mean ± 3 SD over them (0: no bounds).
    reference_chunks: int = 50
    # The domain classifier (reference vs current) on samples of this many rows a side (0: off).
    multivariate_rows: int = 2000
    history_keep_days: int = 0  # stored drift-check results kept (days; 0: all)


@dataclass(frozen=True)
class RetrainSettings:
    holdout: float = 0.3  # share of the NEW labelled rows held out to compare champion and challenger
    window_rows: int = 500_000  # most recent training rows kept (previous training rows, then new ones)
    min_improvement: float = 0.01  # challenger ROC-AUC must beat the champion's by this much
    bootstrap: int = 1000  # paired bootstrap resamples of the holdout; 0 skips the test
    max_p_value: float = 0.05  # one-sided bootstrap p-value that the challenger is not better
    min_roc_auc: float = 0.0  # absolute floors the challenger must pass
    min_pr_auc: float = 0.0
    # What the challenger must beat the champion on: "roc_auc", or "expected_profit" (the campaign's profit
    # at each model's own threshold, [value] settings) by min_profit_gain per customer.
    metric: str = "roc_auc"
    min_profit_gain: float = 0.0
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
class MlflowSettings:
    """A mirror of runs and models in MLflow (the ``mlflow`` extra); off unless a tracking URI is set
    here or in ``MLFLOW_TRACKING_URI``."""

    tracking_uri: str | None = None
    experiment: str = "churnctl"
    registered_model: str = "churn"
    timeout: float = 10.0  # seconds per request to the server before the mirror gives up for this run


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
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)
    source: Path | None = None
