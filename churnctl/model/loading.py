"""A stored model version as a Python object ready to score: the verified pipeline (unpickled only
after the signature, file modes and SHA-256 of its very bytes were checked by the registry), its
schema, threshold and calibration, and its drift reference."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from churnctl.contract.schema import Schema
from churnctl.errors import ArtifactError
from churnctl.model.predictions import calibrate
from churnctl.registry import Registry, ids

log = logging.getLogger("churnctl")


def joblib_bytes(value: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()


@dataclass
class LoadedModel:
    """A model version ready to score: its manifest, schema, fitted pipeline and threshold."""

    version: str
    manifest: dict[str, Any]
    schema: Schema
    pipeline: Any
    threshold: float

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probabilities of prepared feature rows, calibrated as the version was at training."""
        return calibrate(self.pipeline.predict_proba(X)[:, 1], self.manifest.get("calibration"))


def load_model(registry: Registry, version: str | None = None) -> LoadedModel:
    """Load a model version (default: current) after checking its signature, checksum and format.

    ``version`` is what a user typed (``v3``, ``v0003``); a spelling that is not a version is exit 2.
    """

    version = ids.version_argument(version, "--model") if version is not None else registry.require_current()
    manifest = registry.model_manifest(version)
    # the signature, the file's mode and the SHA-256 of these very bytes are checked before unpickling
    data = registry.model_bytes(version, "model.joblib", manifest)
    try:
        pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:  # an unpickling failure is an artifact problem, whatever its type
        raise ArtifactError(
            f"cannot load model {version}: {exc}",
            hint="the file may come from an incompatible scikit-learn; retrain",
        ) from None
    trained_with = manifest.get("versions", {}).get("scikit-learn")
    if trained_with and trained_with != sklearn.__version__:
        log.warning(
            "model %s was trained with scikit-learn %s, this is %s; predictions may differ",
            version,
            trained_with,
            sklearn.__version__,
        )
    return LoadedModel(
        version=version,
        manifest=manifest,
        schema=Schema.from_dict(manifest["schema"]),
        pipeline=pipeline,
        threshold=float(manifest["threshold"]),
    )


def load_reference(registry: Registry, model: LoadedModel) -> tuple[pd.DataFrame, np.ndarray]:
    """A version's drift reference: the stored sample of training features and held-out scores."""
    reference = pd.read_parquet(io.BytesIO(registry.model_bytes(model.version, "reference.parquet", model.manifest)))
    scores = pd.read_parquet(
        io.BytesIO(registry.model_bytes(model.version, "reference_scores.parquet", model.manifest))
    )
    return reference, scores["churn_probability"].to_numpy()
