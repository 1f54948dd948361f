"""evaluate: a model version's metrics on its held-out test split or on labelled data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from churnctl.contract.frames import check_header, encode_target, merge_unseen, prepare_features
from churnctl.contract.rows import unseen_warnings
from churnctl.data.labelled import labelled_rows
from churnctl.data.sources import Part, resolve
from churnctl.errors import DataError
from churnctl.lifecycle.results import Result, warn
from churnctl.model.loading import LoadedModel, load_model
from churnctl.model.metrics import classification_metrics
from churnctl.registry import Registry
from churnctl.runtime.engine import Engine, LocalEngine


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


@dataclass
class EvaluatePartial:
    """One part's labels and churn probabilities (its labelled rows, in order)."""

    n_rows: int
    y: np.ndarray
    proba: np.ndarray
    unseen: dict[str, dict[str, int]]
    unlabelled: int


def evaluate_part(part: Part, offset: int, job: LoadedModel) -> EvaluatePartial:
    """Score one part of labelled data with the model ``job``, in batches; rows without a label are
    counted and left out (their features are checked all the same, and rows are numbered as in the file)."""
    del offset
    with part.fetched() as local:
        return _evaluate(local, job)


def _evaluate(part: Part, model: LoadedModel, batch_rows: int = 100_000) -> EvaluatePartial:
    schema = model.schema
    header = part.header()
    if schema.target not in header:
        raise DataError(
            f"{part.name} has no target column {schema.target!r}; measuring a model needs labelled rows",
            hint="use 'churnctl predict --input' to score unlabelled rows",
        )
    check_header(header, schema, part.name)
    ys, probas, n_rows, unlabelled = [], [], 0, 0
    unseen: dict[str, dict[str, int]] = {}
    for frame in part.batches([*schema.feature_names, schema.target], batch_rows, schema.numeric_names):
        y, labelled = encode_target(frame[schema.target], schema, source=part.name)
        X, batch_unseen = prepare_features(frame, schema, source=part.name, row_offset=n_rows)
        X = X.loc[labelled]
        merge_unseen(unseen, batch_unseen)
        ys.append(y[labelled].astype(int))
        probas.append(model.predict_proba(X) if len(X) else np.empty(0))
        n_rows += len(frame)
        unlabelled += int((~labelled).sum())
    y_all = np.concatenate(ys) if ys else np.empty(0, dtype=int)
    proba = np.concatenate(probas) if probas else np.empty(0)
    return EvaluatePartial(n_rows, y_all, proba, unseen, unlabelled)


def evaluate(
    registry: Registry, *, version: str | None = None, data: str | None = None, engine: Engine | None = None
) -> EvaluateResult:
    """A version's metrics on its dataset's test split, or on the labelled rows of ``data`` (a file,
    folder, glob or URL of parts, scored on ``engine``; default: this process)."""
    model = load_model(registry, version)
    if data is None:
        rows = labelled_rows(registry, model.schema, dataset_id=model.manifest["dataset_id"])
        X, unseen = prepare_features(rows.frame, model.schema, source=rows.described)
        y, proba, described, warnings = rows.y, model.predict_proba(X), rows.described, rows.warnings
    else:
        source = resolve(data)
        parts = (engine or LocalEngine()).map_parts(evaluate_part, source.parts, model)
        if sum(p.n_rows for p in parts) == 0:
            raise DataError(f"{data} has a header but no data rows")
        y = np.concatenate([p.y for p in parts])
        proba = np.concatenate([p.proba for p in parts])
        unseen = {}
        for part in parts:
            merge_unseen(unseen, part.unseen)
        unlabelled = sum(p.unlabelled for p in parts)
        warnings = [f"{unlabelled} row(s) without a label were left out"] if unlabelled else []
        if len(y) == 0:
            raise DataError(f"{data} has no labelled rows")
        described = str(data)
    warnings += unseen_warnings(unseen, described)
    metrics = classification_metrics(y, proba, model.threshold)
    if metrics["roc_auc"] is None:
        warnings.append("the data hold only one class: ROC-AUC and PR-AUC are undefined")
    return EvaluateResult(
        model_version=model.version,
        data=described,
        metrics=metrics,
        warnings=warn(warnings),
        feature_importance=model.manifest.get("feature_importance") or {},
        feature_importance_std=model.manifest.get("feature_importance_std") or {},
        labels=y,
        probabilities=proba,
    )
