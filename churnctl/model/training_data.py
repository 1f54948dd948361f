"""The dataset a version is trained on: read and checked once, a seeded sample of its training rows
beyond ``[train] max_rows`` (read part by part, never the whole split), and its test split scored
batch by batch (labels and probabilities kept, never the rows)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnctl.contract.frames import prepare_features
from churnctl.contract.schema import Schema
from churnctl.data.datasets import describe_source, load_dataset, load_schema, sample_split
from churnctl.data.labelled import TestSplit
from churnctl.model.importance import IMPORTANCE_ROWS, seeded_rows
from churnctl.model.predictions import calibrate
from churnctl.registry import Registry, ids

log = logging.getLogger("churnctl")


@dataclass
class TrainingData:
    """The dataset a version is trained on, read and checked once."""

    dataset_id: str
    manifest: dict[str, Any]
    latest: bool  # chosen as the latest dataset (no --dataset)
    schema: Schema
    train: pd.DataFrame
    test: TestSplit  # read batch by batch (held whole only when the dataset was read whole)
    seen: int = 0  # training rows in the dataset (``train`` may be a sample of them, see read_training_data)


def read_training_data(registry: Registry, dataset_id: str | None, max_rows: int = 0, seed: int = 0) -> TrainingData:
    """The dataset (default: the latest), its manifest verified once; beyond ``max_rows`` training
    rows, a seeded sample of them read part by part (whole groups when rows of a group must stay
    together; ``seen`` keeps how many there were). The test split is never sampled."""
    latest = dataset_id is None
    dataset_id = ids.dataset_argument(dataset_id, "--dataset") if dataset_id is not None else registry.latest_dataset()
    manifest = registry.dataset_manifest(dataset_id)
    if latest and manifest.get("source") == "retrain":
        log.warning(
            "training on %s, the latest dataset, which a retrain made (%s); pass --dataset to choose another "
            "('churnctl datasets list')",
            dataset_id,
            describe_source(manifest),
        )
    seen = int(manifest.get("n_train", 0))
    if max_rows and seen > max_rows:
        schema = load_schema(registry, dataset_id)
        train = sample_split(registry, dataset_id, "train", max_rows, seed, schema.group_column, schema.target)
        test = TestSplit(registry, dataset_id, schema)
        log.info("fitting on a sample of %d of the %d training rows ([train] max_rows)", len(train), seen)
    else:
        schema, train, frame = load_dataset(registry, dataset_id)
        test = TestSplit(registry, dataset_id, schema, frame)
    return TrainingData(dataset_id, manifest, latest, schema, train, test, seen=seen or len(train))


def score_test_split(
    test: TestSplit, pipeline: Any, calibration: dict[str, Any], seed: int
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, np.ndarray]:
    """(labels, calibrated churn probabilities) of every test row, scored batch by batch, and the
    features and labels of the rows permutation importance is measured on: the seeded sample of
    ``IMPORTANCE_ROWS`` positions :func:`feature_importance` would draw from the whole split."""
    some = seeded_rows(test.n_rows, IMPORTANCE_ROWS, seed)
    ys, probas, kept = [], [], []
    start = 0
    for frame in test.batches():
        X, _ = prepare_features(frame, test.schema, source="test split")
        ys.append(frame[test.schema.target].to_numpy().astype(int))
        probas.append(calibrate(pipeline.predict_proba(X)[:, 1], calibration))
        if some is None:
            kept.append(X)
        else:
            inside = some[(some >= start) & (some < start + len(frame))] - start
            kept.append(X.iloc[inside])
        start += len(frame)
    y = np.concatenate(ys)
    X_some = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return y, np.concatenate(probas), X_some, (y if some is None else y[some])
