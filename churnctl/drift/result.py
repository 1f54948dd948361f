"""What a drift check finds: one typed record per feature test, the prediction and performance
tests, and the verdict. ``DriftReport.to_dict()`` is the JSON document of ``drift-check``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from churnctl.contract.schema import ColumnSpec


@dataclass
class FeatureDrift:
    kind: str
    test: str
    statistic: float | None
    p_value: float
    p_value_adjusted: float
    effect_size: float
    effect_metric: str
    effect_threshold: float
    psi: float | None
    js_distance: float | None
    missing_rate_reference: float
    missing_rate_current: float
    missing_p_value: float | None
    missing_p_value_adjusted: float | None
    new_missing_values: bool
    unseen_categories: list[dict[str, Any]]
    importance: float
    drift: bool
    reasons: list[str] = field(default_factory=list)
    alert_bound: float | None = None  # the effect's upper bound from the reference period, if any

    @property
    def rank(self) -> tuple[bool, float]:
        """Sort key: drifted features first, then by effect relative to its threshold (a zero
        threshold ranks by the effect itself)."""
        relative = self.effect_size / self.effect_threshold if self.effect_threshold > 0 else self.effect_size
        return (not self.drift, -relative)


@dataclass
class PredictionDrift:
    """The churn probabilities of the current rows against the model's held-out test-split scores.

    ``n_scored`` rows were scored: every row, or a uniform random sample (each row with probability
    ``sample_rate``) when the data hold more than ``[drift] score_rows``.
    """

    test: str
    statistic: float | None
    p_value: float
    p_value_adjusted: float
    effect_size: float
    effect_metric: str
    effect_threshold: float
    psi: float | None
    n_scored: int
    sample_rate: float
    mean_probability_reference: float
    mean_probability_current: float | None
    drift: bool
    alert_bound: float | None = None  # the effect's upper bound from the reference period, if any


@dataclass
class PerformanceDrift:
    """Metrics on the scored current rows that carry labels, against the model's test metrics."""

    n_labelled: int
    roc_auc: float | None
    roc_auc_reference: float | None
    pr_auc: float | None
    pr_auc_reference: float | None
    churn_rate: float | None
    churn_rate_reference: float | None
    f1: float | None
    f1_reference: float | None
    roc_auc_drop: float | None
    p_value: float | None
    p_value_adjusted: float | None = None
    drift: bool = False


@dataclass
class DriftReport:
    drift_detected: bool
    status: str  # drift | no_drift | insufficient_data
    share_drifted: float
    importance_drifted: float
    drifted_features: list[str]
    n_reference: int
    n_current: int
    model_version: str
    correction: str
    alpha: float
    features: dict[str, FeatureDrift]
    prediction_drift: PredictionDrift
    performance: PerformanceDrift | None
    estimated_performance: Any  # churnctl.drift.performance.EstimatedPerformance
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)
    estimated_profit: Any = None  # churnctl.value.estimate.ProfitEstimate, with [value] settings
    multivariate: Any = None  # churnctl.drift.multivariate.MultivariateDrift, when the test ran
    bounds: Any = None  # churnctl.drift.bounds.Bounds: the alert bounds from the reference period, if any
    time_range: dict[str, str] | None = None  # the batch's first and last time, with a time column
    chunking: dict[str, Any] | None = None  # how the batch was cut into chunks, if it was
    chunks: list[dict[str, Any]] | None = None  # each chunk's summary (churnctl.drift.chunks), in time order
    # Per feature (and "" for the churn probabilities), what a report draws; not part of the JSON.
    distributions: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        document = asdict(replace(self, distributions=None))
        del document["distributions"]
        return document


# Records of the tests before multiple-testing correction (churnctl.drift.monitor).

# A p-value's place in the family corrected together: (what, feature name or "").
PKey = tuple[str, str]


@dataclass
class TestResult:
    """One distribution test before correction: statistic, p-value and effect sizes."""

    statistic: float | None = None
    p_value: float = 1.0
    effect_size: float = 0.0
    psi: float | None = None
    js: float | None = None


@dataclass
class FeatureTests:
    spec: ColumnSpec
    categorical: bool
    distribution: TestResult
    missing_rate_reference: float
    missing_rate_current: float
    missing_p_value: float | None


@dataclass
class TestRun:
    features: dict[str, FeatureTests]
    prediction: TestResult
    performance: PerformanceDrift | None
    pvalues: dict[PKey, float]
