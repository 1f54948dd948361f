"""evaluate: a model version's metrics on its held-out test split or on a labelled file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from churnctl import tables
from churnctl.errors import DataError
from churnctl.features import encode_target, prepare_features
from churnctl.lifecycle.results import Result, warn
from churnctl.metrics import classification_metrics
from churnctl.registry import Registry
from churnctl.registry.artifacts import load_dataset, load_model
from churnctl.rows import unseen_warnings


@dataclass
class EvaluateResult(Result):
    model_version: str
    data: str
    metrics: dict
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The metrics at the top level, with the version and data they describe."""
        return {**self.metrics, "model_version": self.model_version, "data": self.data, "warnings": self.warnings}


def evaluate(registry: Registry, *, version: str | None = None, data: str | None = None) -> EvaluateResult:
    model = load_model(registry, version)
    schema = model.schema
    warnings: list[str] = []
    if data is None:
        dataset = model.manifest["dataset_id"]
        _, _, frame = load_dataset(registry, dataset)
        y = frame[schema.target].to_numpy().astype(int)
        described = f"test split of dataset {dataset}"
    else:
        frame = tables.read_table(data)
        if len(frame) == 0:
            raise DataError(f"{data} has a header but no data rows")
        if schema.target not in frame.columns:
            raise DataError(
                f"{data} has no target column {schema.target!r}; evaluate needs labelled rows",
                hint="use 'churnctl predict --input' to score unlabelled rows",
            )
        y, labelled = encode_target(frame[schema.target], schema, source=str(data))
        if not labelled.all():
            warnings.append(f"{int((~labelled).sum())} row(s) without a label were left out")
            frame, y = frame.loc[labelled].reset_index(drop=True), y[labelled]
        if len(y) == 0:
            raise DataError(f"{data} has no labelled rows")
        described = str(data)
    X, unseen = prepare_features(frame, schema, source=described)
    warnings += unseen_warnings(unseen, described)
    metrics = classification_metrics(y, model.predict_proba(X), model.threshold)
    if metrics["roc_auc"] is None:
        warnings.append("the data hold only one class: ROC-AUC and PR-AUC are undefined")
    return EvaluateResult(model_version=model.version, data=described, metrics=metrics, warnings=warn(warnings))
