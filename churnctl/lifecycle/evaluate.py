"""evaluate: a model version's metrics on its held-out test split or on labelled data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from churnctl.config import Settings
from churnctl.contract.frames import merge_unseen, prepare_features
from churnctl.contract.rows import unseen_warnings
from churnctl.data.labelled import TestSplit, iter_labelled
from churnctl.data.sources import Part, resolve
from churnctl.errors import DataError
from churnctl.lifecycle.results import Result, warn
from churnctl.model.metrics import classification_metrics
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry
from churnctl.runtime.engine import Engine, LocalEngine
from churnctl.value.campaign import Campaign
from churnctl.value.profit import deciles, value_report

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class EvaluateResult(Result):
    model_version: str
    data: str
    metrics: dict
    warnings: list[str] = field(default_factory=list)
    feature_importance: dict = field(default_factory=dict)  # the version's, measured at training
    feature_importance_std: dict = field(default_factory=dict)
    split: dict | None = None  # the test split: how it was drawn (None for --data)
    twins_in_training: int | None = None  # test rows with an identical twin among the training rows
    deciles: list[dict] = field(default_factory=list)  # lift and cumulative gains by decile of probability
    value: dict | None = None  # with [value] settings: the profit at the threshold, the best, the curve, EMP
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
            "split": self.split,
            "twins_in_training": self.twins_in_training,
            "deciles": self.deciles,
            "value": self.value,
        }


@dataclass
class EvaluatePartial:
    """One part's labels and churn probabilities (its labelled rows, in order)."""

    n_rows: int
    y: np.ndarray
    proba: np.ndarray
    unseen: dict[str, dict[str, int]]
    unlabelled: int
    values: np.ndarray | None = None  # each labelled row's customer value, with a campaign


@dataclass
class EvaluateJob:
    """What every part is scored with: the version, and the campaign whose customer values to read."""

    scorer: Scorer
    campaign: Campaign | None = None


class _Scoring:
    """Labelled rows scored batch by batch into one :class:`EvaluatePartial` (rows without a label are
    counted and left out, their features checked all the same)."""

    def __init__(self, job: EvaluateJob):
        self.job = job
        self.ys: list[np.ndarray] = []
        self.probas: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.unseen: dict[str, dict[str, int]] = {}
        self.n_rows = self.unlabelled = 0

    def add(self, frame: pd.DataFrame, y: np.ndarray, labelled: np.ndarray, source: str, row_offset: int = 0) -> None:
        scorer, campaign = self.job.scorer, self.job.campaign
        X, unseen = prepare_features(frame, scorer.schema, source=source, row_offset=row_offset)
        X = X.loc[labelled]
        merge_unseen(self.unseen, unseen)
        self.ys.append(y[labelled].astype(int))
        self.probas.append(scorer.predict_proba(X) if len(X) else np.empty(0))
        if campaign is not None:
            self.values.append(campaign.values(frame.loc[labelled], source))
        self.n_rows += len(frame)
        self.unlabelled += int((~labelled).sum())

    def partial(self) -> EvaluatePartial:
        y = np.concatenate(self.ys) if self.ys else np.empty(0, dtype=int)
        proba = np.concatenate(self.probas) if self.probas else np.empty(0)
        kept = np.concatenate(self.values) if self.values else None
        if self.job.campaign is not None and kept is None:
            kept = np.empty(0)
        return EvaluatePartial(self.n_rows, y, proba, self.unseen, self.unlabelled, kept)


def evaluate_part(part: Part, offset: int, job: EvaluateJob) -> EvaluatePartial:
    """Score one part of labelled data with the version of ``job``, in batches; rows without a label are
    counted and left out (their features are checked all the same, and rows are numbered as in the file)."""
    del offset
    scoring = _Scoring(job)
    with part.fetched() as local:
        extra = job.campaign.columns if job.campaign else ()
        for batch in iter_labelled(local, job.scorer.schema, extra=extra):
            scoring.add(batch.frame, batch.y, batch.labelled, part.name, batch.row_offset)
    return scoring.partial()


def _score_test_split(stored: TestSplit, job: EvaluateJob) -> EvaluatePartial:
    """The version's test split scored batch by batch (every row labelled): each row's label,
    probability and hash are kept, never the rows."""
    scoring = _Scoring(job)
    for frame in stored.batches():
        y = frame[stored.schema.target].to_numpy()
        scoring.add(frame, y, np.ones(len(frame), dtype=bool), stored.described)
    return scoring.partial()


def evaluate(
    registry: Registry,
    settings: Settings,
    *,
    version: str | None = None,
    data: str | None = None,
    engine: Engine | None = None,
) -> EvaluateResult:
    """A version's metrics on its dataset's test split, or on the labelled rows of ``data`` (a file,
    folder, glob or URL of parts, scored on ``engine``; default: this process)."""
    model = Scorer.load(registry, settings, version, eager=True)
    campaign = Campaign.from_settings(settings.value)
    job = EvaluateJob(model, campaign)
    stored = None
    if data is None:
        stored = TestSplit(registry, model.manifest["dataset_id"], model.schema)
        parts = [_score_test_split(stored, job)]
        described = stored.described
    else:
        parts = (engine or LocalEngine()).map_parts(evaluate_part, resolve(data).parts, job)
        if sum(p.n_rows for p in parts) == 0:
            raise DataError(f"{data} has a header but no data rows")
        described = str(data)
    y = np.concatenate([p.y for p in parts])
    proba = np.concatenate([p.proba for p in parts])
    values = np.concatenate([p.values for p in parts if p.values is not None]) if campaign else None
    unseen: dict[str, dict[str, int]] = {}
    for part in parts:
        merge_unseen(unseen, part.unseen)
    unlabelled = sum(p.unlabelled for p in parts)
    warnings = [f"{unlabelled} row(s) without a label were left out"] if unlabelled else []
    if len(y) == 0:
        raise DataError(f"{described} has no labelled rows")
    warnings += unseen_warnings(unseen, described)
    metrics = classification_metrics(y, proba, model.threshold)
    if metrics["roc_auc"] is None:
        warnings.append("the data hold only one class: ROC-AUC and PR-AUC are undefined")
    money = None
    if campaign is not None and values is not None:
        money = value_report(y, proba, values, campaign, model.threshold).to_dict()
    return EvaluateResult(
        model_version=model.version,
        data=described,
        metrics=metrics,
        warnings=warn(warnings),
        feature_importance=model.manifest.get("feature_importance") or {},
        feature_importance_std=model.manifest.get("feature_importance_std") or {},
        split=stored.split if stored else None,
        twins_in_training=stored.twins() if stored else None,
        deciles=deciles(y, proba),
        value=money,
        labels=y,
        probabilities=proba,
    )
