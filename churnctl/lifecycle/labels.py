"""labels: labels that arrive after the predictions, joined to what was answered, and the model's
realised performance per period and model version (:mod:`churnctl.monitoring.labels`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnctl.contract.frames import encode_target
from churnctl.contract.schema import Schema
from churnctl.data.labels import LabelStore, scored_predictions
from churnctl.data.predlog import log_folder
from churnctl.data.predlog_reader import is_prediction_log, logged_predictions
from churnctl.data.sources import resolve
from churnctl.data.tables import read_table
from churnctl.errors import DataError, UsageError, preview
from churnctl.lifecycle.results import Result, warn
from churnctl.monitoring.labels import (
    PREDICTION,
    check_period,
    join,
    label_frame,
    normalise_ids,
    realised,
    utc_time,
)
from churnctl.registry import Registry
from churnctl.registry.ids import version_argument
from churnctl.registry.store import now
from churnctl.runtime.files import sha256_file


@dataclass
class PredictionSource:
    where: str
    kind: str  # prediction log | scored file
    predictions: int
    without_id: int


@dataclass
class LabelsResult(Result):
    file: str
    sha256: str
    id_column: str
    already_added: bool  # this very file was added before: nothing was changed
    labels: int  # ids with a label in the file
    unlabelled: int  # rows whose label is not known yet (left out)
    matched: int  # ids found among the predictions
    unmatched: int
    unmatched_ids: list[str]  # the first few
    added: int  # labelled predictions new to the store
    already_labelled: int  # predictions the store had with the same label
    conflicting: int  # predictions the store had with another label: they keep theirs
    sources: list[PredictionSource]
    period: str
    performance: list[dict[str, Any]]  # per period and model version, every label so far
    warnings: list[str] = field(default_factory=list)


@dataclass
class PerformanceResult(Result):
    period: str
    model_version: str | None
    labelled_predictions: int
    files_added: int
    performance: list[dict[str, Any]]


def add_labels(
    registry: Registry,
    path: str,
    *,
    id_column: str,
    target: str | None = None,
    predictions: list[str] | None = None,
    scored_at: str | None = None,
    period: str = "month",
    wait: float = 0.0,
) -> LabelsResult:
    """Join the labels of ``path`` (``id_column`` and the model's target column, or ``target``) to the
    predictions of ``predictions`` (prediction logs and scored files; default: this registry's
    prediction log) and store the new labelled predictions."""
    check_period(period)
    when = utc_time(scored_at, "--scored-at") if scored_at is not None else None
    schema = _schema(registry)
    file = Path(path)
    if not file.is_file():
        raise DataError(f"labels file {path} does not exist", hint="check the path")
    sha256 = sha256_file(file)
    frame, unlabelled = _read_labels(file, id_column, target or schema.target, schema)
    store = LabelStore(registry.root)
    with registry.lock(wait):
        if any(entry.get("sha256") == sha256 for entry in store.added()):
            return _unchanged(store, path, sha256, id_column, len(frame), unlabelled, period)
        sources, found = _predictions(registry, predictions, id_column, when)
        known = store.joined()
        joined = join(frame, found, known, sha256)
        stored = pd.concat([known, joined.new], ignore_index=True) if len(joined.new) else known
        performance = realised(stored, period)  # before anything is written: a failure here changes nothing
        if len(joined.new):  # a file that added nothing is not recorded: it may be added again once its
            entry = {  # predictions are there (the keys keep a second add of the same rows from counting)
                "sha256": sha256,
                "file": str(path),
                "added_at": now(),
                "labels": joined.labels,
                "matched": joined.matched,
                "added": len(joined.new),
            }
            store.save(stored, entry)
            registry.record("labels_added", **{k: v for k, v in entry.items() if k != "added_at"})
    warnings = _warnings(joined.unmatched, joined.labels, joined.conflicting, sources, id_column)
    return LabelsResult(
        file=str(path),
        sha256=sha256,
        id_column=id_column,
        already_added=False,
        labels=joined.labels,
        unlabelled=unlabelled,
        matched=joined.matched,
        unmatched=len(joined.unmatched),
        unmatched_ids=joined.unmatched[:10],
        added=len(joined.new),
        already_labelled=joined.already,
        conflicting=joined.conflicting,
        sources=sources,
        period=period,
        performance=performance,
        warnings=warn(warnings),
    )


def labels_performance(registry: Registry, *, period: str = "month", version: str | None = None) -> PerformanceResult:
    """Realised performance per period and model version from every label added so far."""
    check_period(period)
    registry.require_exists()
    version = version_argument(version, "--model") if version is not None else None
    store = LabelStore(registry.root)
    joined = store.joined()
    return PerformanceResult(period, version, len(joined), len(store.added()), realised(joined, period, version))


def _schema(registry: Registry) -> Schema:
    """The current model's schema: its target column and positive label read the labels."""
    return Schema.from_dict(registry.model_manifest(registry.require_current())["schema"])


def _read_labels(file: Path, id_column: str, target: str, schema: Schema) -> tuple[pd.DataFrame, int]:
    header = resolve(str(file)).read_header()
    absent = [c for c in (id_column, target) if c not in header]
    if absent:
        raise DataError(
            f"labels file {file} lacks the column(s) {preview(absent)} (it has {preview(header, 8)})",
            hint="name the id column with --id-column and the label column with --target",
        )
    frame = read_table(file, columns=[id_column, target])
    labels, labelled = encode_target(frame[target], schema, source=str(file))
    return label_frame(frame[id_column], labels, labelled, str(file))


def _predictions(
    registry: Registry, specs: list[str] | None, id_column: str, scored_at: pd.Timestamp | None
) -> tuple[list[PredictionSource], pd.DataFrame]:
    """Every prediction of the given logs and scored files (default: this registry's prediction log)."""
    if not specs:
        folder = log_folder(registry.root)
        if not folder.is_dir() or not any(folder.rglob("*.jsonl")):
            raise UsageError(
                "there are no predictions to join the labels to: this registry has no prediction log",
                hint="name the scored files with --predictions FILE (churnctl predict --output), or log the "
                "server's answers with churnctl serve --log-predictions",
            )
        specs = [str(folder)]
    sources, frames = [], []
    for spec in specs:
        if is_prediction_log(spec):
            logged = logged_predictions(spec, id_column)
            frame, without, kind = logged.frame, logged.without_id, "prediction log"
        else:
            frame, without = scored_predictions(spec, id_column, scored_at)
            kind = "scored file"
        sources.append(PredictionSource(spec, kind, len(frame), without))
        frames.append(frame)
    found = pd.concat(frames, ignore_index=True)[PREDICTION]
    found["id"] = normalise_ids(found["id"])
    return sources, found


def _unchanged(
    store: LabelStore, path: str, sha256: str, id_column: str, labels: int, unlabelled: int, period: str
) -> LabelsResult:
    entry = next(e for e in store.added() if e.get("sha256") == sha256)
    message = f"{path} was added before ({entry.get('added_at')}, as {entry.get('file')}): nothing changed"
    return LabelsResult(
        file=path,
        sha256=sha256,
        id_column=id_column,
        already_added=True,
        labels=labels,
        unlabelled=unlabelled,
        matched=int(entry.get("matched", 0)),
        unmatched=labels - int(entry.get("matched", 0)),
        unmatched_ids=[],
        added=0,
        already_labelled=0,
        conflicting=0,
        sources=[],
        period=period,
        performance=realised(store.joined(), period),
        warnings=warn([message]),
    )


def _warnings(
    unmatched: list[str], labels: int, conflicting: int, sources: list[PredictionSource], id_column: str
) -> list[str]:
    out = []
    if unmatched:
        out.append(
            f"{len(unmatched)} of {labels} labelled id(s) match no prediction, e.g. {preview(unmatched[:5])}: "
            "not counted"
        )
    if conflicting:
        out.append(f"{conflicting} prediction(s) were labelled before with another label: they keep the first")
    for source in sources:
        if source.without_id:
            out.append(
                f"{source.where}: {source.without_id} prediction(s) carry no {id_column!r}: they cannot be joined"
            )
    return out
