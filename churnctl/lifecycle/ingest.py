"""ingest: infer a file's data contract and store it as a dataset version with a train/test split."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from churnctl.config import Settings
from churnctl.contract.inference import infer_schema
from churnctl.contract.schema import Schema
from churnctl.data import tables
from churnctl.data.datasets import dataset_id, store_dataset, stratified_split
from churnctl.errors import DataError, UsageError
from churnctl.lifecycle.results import Result, warn
from churnctl.registry import Registry
from churnctl.runtime.files import sha256_file

log = logging.getLogger("churnctl")


@dataclass
class IngestResult(Result):
    dataset_id: str
    created: bool
    source: str
    source_sha256: str
    target: str
    positive_label: str
    n_rows: int
    n_train: int
    n_test: int
    churn_rate: float
    features: list[dict]
    excluded: list[dict]
    n_unlabelled: int = 0
    warnings: list[str] = field(default_factory=list)


def _result(manifest: dict, schema: Schema, created: bool, warnings: list[str]) -> IngestResult:
    return IngestResult(
        dataset_id=manifest["dataset_id"],
        created=created,
        source=manifest["source"],
        source_sha256=manifest["source_sha256"],
        target=schema.target,
        positive_label=schema.positive_label,
        n_rows=manifest["n_rows"],
        n_train=manifest["n_train"],
        n_test=manifest["n_test"],
        churn_rate=manifest["churn_rate"],
        n_unlabelled=manifest.get("n_unlabelled", 0),
        features=[
            {"name": c.name, "kind": c.kind, "missing_rate": c.missing_rate, "n_unique": c.n_unique}
            for c in schema.features
        ],
        excluded=[
            {"name": c.name, "role": c.role, "reason": c.reason}
            for c in schema.columns
            if c.role in ("identifier", "ignored")
        ],
        warnings=warnings,
    )


def ingest(
    registry: Registry,
    path: str,
    settings: Settings,
    *,
    target: str | None = None,
    positive: str | None = None,
    test_size: float | None = None,
    seed: int | None = None,
    wait: float = 0.0,
) -> IngestResult:
    target = target or settings.data.target
    positive = positive if positive is not None else settings.data.positive
    test_size = settings.data.test_size if test_size is None else test_size
    seed = settings.data.seed if seed is None else seed
    if not 0.0 < test_size < 1.0:
        raise UsageError(f"--test-size must be a fraction between 0 and 1, found {test_size}")

    source = Path(path)
    raw = tables.read_table(source)
    checksum = sha256_file(source)
    if len(raw) == 0:
        raise DataError(f"{source} has a header but no data rows", hint="expected at least one customer row")
    inferred = infer_schema(raw, target, positive)
    schema, frame = inferred.schema, inferred.frame
    warnings = list(inferred.warnings)
    if inferred.n_unlabelled:
        warnings.append(f"{inferred.n_unlabelled} row(s) without a value in target {schema.target!r} were left out")
    y = frame[schema.target].to_numpy()
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise DataError(
            f"target {schema.target!r} has {counts.min()} row(s) of its rarer class; a stratified "
            "train/test split needs at least 2",
            hint="ingest more labelled rows of both classes",
        )
    n_test = math.ceil(test_size * len(frame))
    if n_test < 2 or len(frame) - n_test < 2:
        raise DataError(
            f"{len(frame)} labelled rows are too few for a {test_size:.0%} test split",
            hint="ingest more rows or change --test-size",
        )
    new_id = dataset_id(checksum, schema.target, schema.positive_label, test_size, seed)

    with registry.lock(wait):
        if registry.has_dataset(new_id):
            manifest = registry.dataset_manifest(new_id)
            log.info("dataset %s already holds this file with these options; nothing written", new_id)
            return _result(manifest, schema, created=False, warnings=warn(warnings))
        train_frame, test_frame = stratified_split(frame, y, test_size, seed, str(source))
        manifest = store_dataset(
            registry,
            new_id,
            schema,
            train_frame,
            test_frame,
            {
                "source": str(source.resolve()),
                "source_sha256": checksum,
                "test_size": test_size,
                "seed": seed,
                "n_unlabelled": inferred.n_unlabelled,
            },
        )
    return _result(manifest, schema, created=True, warnings=warn(warnings))
