"""What a drift report says in words: why a batch drifted, as a whole."""

from __future__ import annotations

from churnctl.config import DriftSettings
from churnctl.drift.multivariate import MultivariateDrift
from churnctl.drift.performance import EstimatedPerformance
from churnctl.drift.result import PerformanceDrift, PredictionDrift


def drift_reasons(
    cfg: DriftSettings,
    drifted: list[str],
    share: float,
    importance: float,
    prediction: PredictionDrift,
    performance: PerformanceDrift | None,
    estimated: EstimatedPerformance,
    joint: MultivariateDrift | None = None,
) -> list[str]:
    """Why the batch drifted, as a whole: enough drifting features, shifted predictions, a realised
    or an estimated drop of ROC-AUC, a change of the columns' joint distribution."""
    reasons = []
    if (
        drifted
        and len(drifted) >= cfg.min_drifted_features
        and share >= cfg.min_drifted_share
        and importance >= cfg.min_drifted_importance
    ):
        reasons.append(f"{len(drifted)} drifting feature(s): {', '.join(drifted)}")
    if prediction.drift:
        reasons.append("the churn-probability distribution shifted")
    if performance is not None and performance.drift:
        reasons.append(f"ROC-AUC fell by {performance.roc_auc_drop:.3f}")
    if estimated.drop_detected and estimated.roc_auc is not None and estimated.reference_roc_auc is not None:
        fell = estimated.reference_roc_auc - estimated.roc_auc
        reasons.append(f"the ROC-AUC estimated without labels (CBPE) fell by {fell:.3f}")
    if joint is not None and joint.drift and joint.roc_auc is not None and joint.bound is not None:
        names = ", ".join(c["column"] for c in joint.top_columns)
        reasons.append(
            f"the columns' joint distribution changed (domain classifier ROC-AUC {joint.roc_auc:.3f} above its "
            f"bound {joint.bound:.3f}; most separating: {names})"
        )
    return reasons
