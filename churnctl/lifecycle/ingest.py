"""ingest: infer a file's data contract and store it as a dataset version with a train/test split.

Honest numbers start here: identifiers are recognised by content as well as by name; exact duplicate
rows are counted and kept on one side of the split; rows of one group (a repeating customer id, or
``--group-column``) stay together; with ``--time-column`` the test rows are the newest; and every
feature's power alone is measured on the training rows, so that a column that gives the label away
is excluded before any model sees it (:mod:`churnctl.contract.leaks`, :mod:`churnctl.data.split`)."""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnctl.config import Settings
from churnctl.contract.inference import infer_schema
from churnctl.contract.leaks import LEAK_AUC, leak_guard
from churnctl.contract.schema import Schema
from churnctl.data import tables
from churnctl.data.datasets import content_digest, dataset_id, load_schema, publish_dataset, store_dataset
from churnctl.data.sources import Source, is_url, resolve
from churnctl.data.split import row_groups, split_rows
from churnctl.data.streamed import exact_schema, plan_stream, stream_fields, stream_warnings, write_stream
from churnctl.errors import DataError, UsageError, preview
from churnctl.lifecycle.results import Result, warn
from churnctl.registry import Registry
from churnctl.runtime.cluster import count_rows
from churnctl.runtime.engine import Engine, LocalEngine
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
    split: dict = field(default_factory=dict)  # how the rows were split (kind, time ranges, groups)
    duplicates: int = 0  # rows equal to an earlier row in every feature and the target
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
            {
                "name": c.name,
                "kind": c.kind,
                "missing_rate": c.missing_rate,
                "n_unique": c.n_unique,
                "alone_auc": c.alone_auc,
            }
            for c in schema.features
        ],
        excluded=[
            {"name": c.name, "role": c.role, "reason": c.reason, "alone_auc": c.alone_auc}
            for c in schema.columns
            if c.role not in ("feature", "target")
        ],
        split=manifest.get("split") or {"kind": "stratified random"},
        duplicates=int(manifest.get("duplicates", 0)),
        warnings=warnings,
    )


@dataclass(frozen=True)
class IngestOptions:
    """How a file becomes a dataset: every option that changes the stored rows (and so the id)."""

    target: str | None
    positive: str | None
    test_size: float
    seed: int
    keep: tuple[str, ...] = ()
    group: str | None = None
    time: str | None = None
    test_from: str | None = None
    leak_auc: float = LEAK_AUC

    def check(self) -> None:
        if not 0.0 < self.test_size < 1.0:
            raise UsageError(f"--test-size must be a fraction between 0 and 1, found {self.test_size}")
        if self.test_from is not None and self.time is None:
            raise UsageError("--test-from goes with --time-column", hint="name the time column: --time-column COL")

    def id_fields(self) -> dict[str, Any]:
        """What the dataset id adds for these options: nothing for the defaults, so that a file ingested
        without them keeps the id it always had."""
        fields: dict[str, Any] = {}
        for name, default in (("keep", ()), ("group", None), ("time", None), ("test_from", None)):
            if getattr(self, name) != default:
                fields[name] = sorted(self.keep) if name == "keep" else getattr(self, name)
        if self.leak_auc != LEAK_AUC:
            fields["leak_auc"] = self.leak_auc
        return fields


def ingest(
    registry: Registry,
    path: str,
    settings: Settings,
    *,
    target: str | None = None,
    positive: str | None = None,
    test_size: float | None = None,
    seed: int | None = None,
    keep: list[str] | None = None,
    group: str | None = None,
    time: str | None = None,
    test_from: str | None = None,
    wait: float = 0.0,
    engine: Engine | None = None,
) -> IngestResult:
    """Store ``path`` as a dataset version (or find it stored): its contract, its split, its guards."""
    cfg = settings.data
    options = IngestOptions(
        target=target or cfg.target,
        positive=positive if positive is not None else cfg.positive,
        test_size=cfg.test_size if test_size is None else test_size,
        seed=cfg.seed if seed is None else seed,
        keep=tuple(keep) if keep else cfg.keep_columns,
        group=group or cfg.group_column,
        time=time or cfg.time_column,
        test_from=test_from or cfg.test_from,
        leak_auc=cfg.leak_auc,
    )
    options.check()
    source = resolve(path)
    engine = engine or LocalEngine()
    n_rows = sum(engine.map_parts(count_rows, source.parts, None))
    if cfg.memory_rows and n_rows > cfg.memory_rows:
        return _ingest_streamed(registry, source, options, n_rows, engine, wait)
    raw, checksum = read_source(source)
    if len(raw) == 0:
        raise DataError(f"{path} has a header but no data rows", hint="expected at least one customer row")
    inferred = infer_schema(
        raw, options.target, options.positive, keep=options.keep, group=options.group, time=options.time
    )
    header = list(raw.columns)
    del raw  # the text of every cell: the typed rows are all that is needed from here on
    warnings = list(inferred.warnings)
    if inferred.n_unlabelled:
        warnings.append(
            f"{inferred.n_unlabelled} row(s) without a value in target {inferred.schema.target!r} were left out"
        )
    _check_size(inferred.frame[inferred.schema.target].to_numpy(), options.test_size, inferred.schema.target)
    new_id = dataset_id(
        content_digest(inferred.frame, header),
        inferred.schema.target,
        inferred.schema.positive_label,
        options.test_size,
        options.seed,
        options.id_fields(),
    )
    with registry.lock(wait):
        if registry.has_dataset(new_id):
            return _found(registry, new_id, warnings)
        prepared = prepare_dataset(inferred.schema, inferred.frame, options, source.spec)
        manifest = store_dataset(
            registry,
            new_id,
            prepared.schema,
            prepared.train,
            prepared.test,
            {
                "source": source.where,
                "source_sha256": checksum,
                "test_size": options.test_size,
                "seed": options.seed,
                "n_unlabelled": inferred.n_unlabelled,
                **prepared.fields,
            },
        )
    return _result(manifest, prepared.schema, created=True, warnings=warn(warnings + prepared.warnings))


def _found(registry: Registry, dataset: str, warnings: list[str]) -> IngestResult:
    log.info("dataset %s already holds this file with these options; nothing written", dataset)
    schema = load_schema(registry, dataset)
    return _result(registry.dataset_manifest(dataset), schema, created=False, warnings=warn(warnings))


def _ingest_streamed(
    registry: Registry, source: Source, options: IngestOptions, n_rows: int, engine: Engine, wait: float
) -> IngestResult:
    """An input of more rows than ``[data] memory_rows``, in passes over its parts that each hold one
    batch of rows (:mod:`churnctl.data.streamed`): the contract's roles and kinds inferred on a seeded
    sample, its statistics, the duplicates and the split's counts exact over every row."""
    plan = plan_stream(
        source,
        engine,
        n_rows,
        target=options.target,
        positive=options.positive,
        keep=options.keep,
        group=options.group,
        time=options.time,
        test_size=options.test_size,
        test_from=options.test_from,
        seed=options.seed,
        leak_auc=options.leak_auc,
    )
    with registry.lock(wait):
        staged = registry.stage()
        merged = write_stream(plan, staged, engine, source)
        schema = plan.schema
        fields = {**options.id_fields(), "streamed": True}
        new_id = dataset_id(
            merged.digest, schema.target, schema.positive_label, options.test_size, options.seed, fields
        )
        if registry.has_dataset(new_id):
            shutil.rmtree(staged.path, ignore_errors=True)
            return _found(registry, new_id, plan.warnings)
        schema = exact_schema(plan, merged)
        fields = {
            "source": source.where,
            "source_sha256": plan.checksum,
            "test_size": options.test_size,
            "seed": options.seed,
            "leak_auc": options.leak_auc,
            "keep_columns": sorted(options.keep),
            **stream_fields(plan, merged, n_rows, engine.name),
        }
        manifest = publish_dataset(registry, staged, new_id, schema, fields)
    return _result(manifest, schema, created=True, warnings=warn(plan.warnings + stream_warnings(merged, schema)))


def read_source(source: Source) -> tuple[pd.DataFrame, str]:
    """Every row of a file, or of a folder, glob or URL of parts (the same columns in each, read in
    name order), and the SHA-256 of what was read (of each part's, for several)."""
    if source.single and not is_url(source.parts[0].location):
        location = source.parts[0].location
        return tables.read_table(location), sha256_file(location)
    frames, digests, first = [], [], None
    for part in source.parts:
        with part.local() as local:
            frame = tables.read_table(local)
            digests.append(sha256_file(local))
        if first is None:
            first = list(frame.columns)
        elif list(frame.columns) != first:
            raise DataError(
                f"{part.name} has other columns than the first part ({preview(first, 6)})",
                hint="give every part the same columns in the same order",
            )
        frames.append(frame)
    if len(frames) == 1:
        return frames[0], digests[0]
    if len({tuple(str(t) for t in f.dtypes) for f in frames}) > 1:  # CSV text beside Parquet types
        frames = [f.astype(object) for f in frames]
    return pd.concat(frames, ignore_index=True), source.sha256(digests)


def _check_size(y: np.ndarray, test_size: float, target: str) -> None:
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise DataError(
            f"target {target!r} has {counts.min()} row(s) of its rarer class; a stratified "
            "train/test split needs at least 2",
            hint="ingest more labelled rows of both classes",
        )
    n_test = math.ceil(test_size * len(y))
    if n_test < 2 or len(y) - n_test < 2:
        raise DataError(
            f"{len(y)} labelled rows are too few for a {test_size:.0%} test split",
            hint="ingest more rows or change --test-size",
        )


@dataclass
class PreparedDataset:
    schema: Schema
    train: pd.DataFrame
    test: pd.DataFrame
    fields: dict[str, Any]  # for the manifest: the split, duplicates, the guards' settings
    warnings: list[str]


def prepare_dataset(schema: Schema, frame: pd.DataFrame, options: IngestOptions, source: str) -> PreparedDataset:
    """Split the typed rows (duplicates, groups and time respected), then run the leak guard on the
    training rows and drop what it excludes."""
    y = frame[schema.target].to_numpy()
    group = frame[schema.group_column] if schema.group_column else None
    groups, duplicates = row_groups(frame, [*schema.feature_names, schema.target], group)
    times = frame[schema.time_column] if schema.time_column else None
    split = split_rows(
        y, options.test_size, options.seed, source, groups=groups, times=times, test_from=options.test_from
    )
    train, test = frame.iloc[split.train], frame.iloc[split.test]
    schema, exclusions, warnings = leak_guard(
        schema, train, y[split.train], leak_auc=options.leak_auc, keep=options.keep, seed=options.seed
    )
    if not schema.features:
        raise DataError(
            "every feature column is a suspected leak or excluded",
            hint="if a column is known before churn happens, keep it with --keep-column COL",
        )
    if duplicates:
        warnings.append(
            f"{duplicates} row(s) ({duplicates / len(frame):.1%}) repeat another row exactly (identifiers ignored): "
            "each set of twins stays on one side of the split"
        )
    leaked = [e.name for e in exclusions]
    fields = {
        "split": {"kind": split.kind, **split.details},
        "duplicates": duplicates,
        "duplicate_share": duplicates / len(frame),
        "group_column": schema.group_column,
        "time_column": schema.time_column,
        "leak_auc": options.leak_auc,
        "keep_columns": sorted(options.keep),
        "leaks": [{"name": e.name, "alone_auc": e.auc, "why": e.why} for e in exclusions],
    }
    return PreparedDataset(schema, train.drop(columns=leaked), test.drop(columns=leaked), fields, warnings)
