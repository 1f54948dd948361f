"""predict: score JSON rows or a CSV/Parquet batch with a model version."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnctl import tables
from churnctl.config import Settings, validate_risk_bands
from churnctl.errors import DataError, preview
from churnctl.features import check_header, merge_unseen, prepare_features, unseen_warnings
from churnctl.lifecycle.results import Result, warn
from churnctl.progress import Progress, no_progress
from churnctl.registry import Registry
from churnctl.registry.artifacts import LoadedModel, load_model


def confidence(proba: np.ndarray, threshold: float) -> np.ndarray:
    """How decided the label is: 0 at the threshold, 1 at probability 0 or 1.

    The distance of the probability from the decision threshold, as a share of the room on that
    side: (p - t) / (1 - t) above the threshold, (t - p) / t below it.
    """
    above = proba >= threshold
    return np.where(above, (proba - threshold) / (1.0 - threshold), (threshold - proba) / threshold)


def score(
    model: LoadedModel, frame: pd.DataFrame, bands: tuple[float, float], *, source: str = "input", row_offset: int = 0
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Predictions for ``frame``: identifiers present in it, then the prediction columns."""
    X, unseen = prepare_features(frame, model.schema, source=source, row_offset=row_offset)
    proba = model.predict_proba(X)
    out = pd.DataFrame(index=frame.index)
    for name in model.schema.identifier_names:
        if name in frame.columns:
            out[name] = frame[name].to_numpy()
    out["churn_probability"] = np.round(proba, 6)
    out["churn_label"] = (proba >= model.threshold).astype(int)
    out["risk_level"] = np.where(proba < bands[0], "low", np.where(proba < bands[1], "medium", "high"))
    out["confidence"] = np.round(confidence(proba, model.threshold), 6)
    out["model_version"] = model.version
    return out, unseen


def read_json_input(source: str) -> tuple[str, str]:
    """(text, name for messages) of a JSON input: a file, or standard input for ``-``."""
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source)
    if not path.is_file():
        raise DataError(f"JSON file {path} does not exist", hint="check the path, or use '-' for stdin")
    return path.read_text(encoding="utf-8", errors="replace"), str(path)


@dataclass
class PredictRowsResult(Result):
    model_version: str
    single: bool
    predictions: list[dict]
    warnings: list[str] = field(default_factory=list)

    def document(self) -> Any:
        """The JSON written to stdout: one object for one input object, else an array."""
        return self.predictions[0] if self.single else self.predictions


def predict_rows(
    registry: Registry, settings: Settings, source: str, *, version: str | None = None
) -> PredictRowsResult:
    """Score the JSON rows of ``source`` (a file path, or ``-`` for standard input)."""
    text, name = read_json_input(source)
    rows, single = tables.parse_json_rows(text, name)
    model = load_model(registry, version)
    for number, row in enumerate(rows, start=1):
        absent = [n for n in model.schema.feature_names if n not in row]
        if absent:
            raise DataError(
                f"{name}: row {number} lacks {len(absent)} feature column(s) the model needs: {preview(absent)}",
                hint="give every feature in every row; null marks a missing value",
            )
    frame = pd.DataFrame.from_records(rows)
    bands = validate_risk_bands(settings.predict.risk_bands)
    predictions, unseen = score(model, frame, bands, source=name)
    records = json.loads(predictions.to_json(orient="records"))
    # Identifiers come back as the caller sent them (JSON types), not as text.
    for record, row in zip(records, rows, strict=True):
        for column in model.schema.identifier_names:
            if column in record:
                record[column] = row.get(column)
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
    model = load_model(registry, version)
    bands = validate_risk_bands(settings.predict.risk_bands)
    header = tables.read_header(input_path)
    check_header(header, model.schema, str(input_path))
    wanted = model.schema.feature_names + [n for n in model.schema.identifier_names if n in header]
    unseen: dict[str, dict[str, int]] = {}
    n_rows = n_churn = 0
    levels = {"low": 0, "medium": 0, "high": 0}
    total_p = 0.0
    with tables.TableWriter(output) as writer:
        numeric = model.schema.numeric_names
        for batch in tables.iter_table(input_path, columns=wanted, batch_rows=batch_rows, numeric=numeric):
            batch.index = pd.RangeIndex(n_rows, n_rows + len(batch))
            predictions, batch_unseen = score(model, batch, bands, source=str(input_path), row_offset=n_rows)
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
