"""predict: score JSON rows or a CSV/Parquet batch with a model version."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churnctl import outputs, tables
from churnctl.config import Settings
from churnctl.errors import DataError
from churnctl.explain import reasons, typical_values
from churnctl.features import check_header, merge_unseen, prepare_features
from churnctl.lifecycle.results import PredictRowsResult, Result, warn
from churnctl.predictions import high_risk_cut, json_predictions, prediction_columns
from churnctl.progress import Progress, no_progress
from churnctl.registry import Registry
from churnctl.registry.artifacts import LoadedModel, load_model, load_reference
from churnctl.rows import require_features, unseen_warnings

log = logging.getLogger(__name__)


def score(
    model: LoadedModel, frame: pd.DataFrame, high: float, *, source: str = "input", row_offset: int = 0
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Predictions for ``frame``: identifiers present in it, then the prediction columns."""
    X, unseen = prepare_features(frame, model.schema, source=source, row_offset=row_offset)
    proba = model.predict_proba(X)
    out = pd.DataFrame(index=frame.index)
    for name in model.schema.identifier_names:
        if name in frame.columns:
            out[name] = frame[name].to_numpy()
    for name, values in prediction_columns(proba, model.threshold, high).items():
        out[name] = values
    out["model_version"] = model.version
    return out, unseen


def predict_parsed_rows(
    registry: Registry,
    settings: Settings,
    rows: list[dict],
    single: bool,
    name: str,
    *,
    version: str | None = None,
    explain: bool = False,
) -> PredictRowsResult:
    """Score parsed JSON rows (``single``: the input was one object; ``name`` names it in messages);
    with ``explain``, each prediction gets its top ``reasons`` (:mod:`churnctl.explain`)."""
    model = load_model(registry, version)
    require_features(rows, model.schema, name)
    high = high_risk_cut(model.threshold, settings.predict.high_risk, model.version)
    typical = typical_values(load_reference(registry, model)[0], model.schema) if explain else None
    return score_rows(model, rows, single, name, high, typical=typical)


def score_rows(
    model: LoadedModel,
    rows: list[dict],
    single: bool,
    name: str,
    high: float,
    *,
    typical: dict[str, Any] | None = None,
) -> PredictRowsResult:
    """Predictions of parsed JSON rows by a loaded version (``high``: where high risk starts); with
    ``typical`` (the reference's typical values, :func:`churnctl.explain.typical_values`), each with
    its top ``reasons``."""
    require_features(rows, model.schema, name)
    X, unseen = prepare_features(pd.DataFrame.from_records(rows), model.schema, source=name)
    proba = model.predict_proba(X)
    records = json_predictions(rows, proba, model.schema, model.threshold, high, model.version)
    if typical is not None:
        explained = reasons(model.predict_proba, X, model.schema, typical, base=proba)
        for record, row, why in zip(records, rows, explained, strict=True):
            record["reasons"] = [{**r, "value": row.get(r["feature"])} for r in why]  # as the caller sent it
    return PredictRowsResult(
        model_version=model.version, single=single, predictions=records, warnings=warn(unseen_warnings(unseen, name))
    )


@dataclass
class PredictFileResult(Result):
    model_version: str
    input: str
    output: str | None
    n_rows: int
    n_churn: int
    risk_levels: dict
    mean_probability: float
    warnings: list[str] = field(default_factory=list)


def predict_file(
    registry: Registry,
    settings: Settings,
    input_path: str,
    *,
    output: str | None = None,
    version: str | None = None,
    batch_rows: int = 100_000,
    progress: Progress = no_progress,
) -> PredictFileResult:
    """Score a CSV/Parquet file in batches (bounded memory) into CSV/Parquet, or CSV on stdout."""
    started = time.monotonic()
    model = load_model(registry, version)
    high = high_risk_cut(model.threshold, settings.predict.high_risk, model.version)
    header = tables.read_header(input_path)
    check_header(header, model.schema, str(input_path))
    wanted = model.schema.feature_names + [n for n in model.schema.identifier_names if n in header]
    unseen: dict[str, dict[str, int]] = {}
    n_rows = n_churn = 0
    levels = {"low": 0, "medium": 0, "high": 0}
    total_p = 0.0
    with outputs.TableWriter(output) as writer:
        numeric = model.schema.numeric_names
        for batch in tables.iter_table(input_path, columns=wanted, batch_rows=batch_rows, numeric=numeric):
            batch.index = pd.RangeIndex(n_rows, n_rows + len(batch))
            predictions, batch_unseen = score(model, batch, high, source=str(input_path), row_offset=n_rows)
            merge_unseen(unseen, batch_unseen)
            writer.write(predictions)
            n_rows += len(batch)
            progress("scoring rows", n_rows, None)
            n_churn += int(predictions["churn_label"].sum())
            total_p += float(predictions["churn_probability"].sum())
            for level, count in predictions["risk_level"].value_counts().items():
                levels[str(level)] += int(count)
        if n_rows == 0:
            raise DataError(f"{input_path} has a header but no data rows")
    log.debug("%d rows of %s scored by %s in %.1f s", n_rows, input_path, model.version, time.monotonic() - started)
    return PredictFileResult(
        model_version=model.version,
        input=str(input_path),
        output=output,
        n_rows=n_rows,
        n_churn=n_churn,
        risk_levels=levels,
        mean_probability=total_p / n_rows,
        warnings=warn(unseen_warnings(unseen, str(input_path))),
    )
