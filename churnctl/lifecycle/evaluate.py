"""evaluate: a model version's metrics on its held-out test split or on a labelled file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from churnctl.features import prepare_features
from churnctl.labelled import labelled_rows
from churnctl.lifecycle.results import Result, warn
from churnctl.metrics import classification_metrics
from churnctl.registry import Registry
from churnctl.registry.artifacts import load_model
from churnctl.rows import unseen_warnings


@dataclass
class EvaluateResult(Result):
    model_version: str
    data: str
    metrics: dict
    warnings: list[str] = field(default_factory=list)
    feature_importance: dict = field(default_factory=dict)  # the version's, measured at training
    feature_importance_std: dict = field(default_factory=dict)
    labels: Any = field(default=None, repr=False)  # the rows' 0/1 labels and churn probabilities,
    probabilities: Any = field(default=None, repr=False)  # for reports (not part of the JSON document)

    def to_dict(self) -> dict[str, Any]:
        """The metrics at the top level, with the version and data they describe."""
        return {
            **self.metrics,
            "model_version": self.model_version,
            "data": self.data,
            "warnings": self.warnings,
            "feature_importance": self.feature_importance,
            "feature_importance_std": self.feature_importance_std,
        }


def evaluate(registry: Registry, *, version: str | None = None, data: str | None = None) -> EvaluateResult:
    """A version's metrics on its dataset's test split, or on the labelled rows of ``data``."""
    model = load_model(registry, version)
    rows = labelled_rows(registry, model.schema, dataset_id=model.manifest["dataset_id"], data=data)
    X, unseen = prepare_features(rows.frame, model.schema, source=rows.described)
    warnings = rows.warnings + unseen_warnings(unseen, rows.described)
    proba = model.predict_proba(X)
    metrics = classification_metrics(rows.y, proba, model.threshold)
    if metrics["roc_auc"] is None:
        warnings.append("the data hold only one class: ROC-AUC and PR-AUC are undefined")
    return EvaluateResult(
        model_version=model.version,
        data=rows.described,
        metrics=metrics,
        warnings=warn(warnings),
        feature_importance=model.manifest.get("feature_importance") or {},
        feature_importance_std=model.manifest.get("feature_importance_std") or {},
        labels=rows.y,
        probabilities=proba,
    )
