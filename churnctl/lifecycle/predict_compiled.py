"""predict --json with a version's compiled model (``model.npz``, see :mod:`churnctl.model.compiled`).

Nothing here imports scikit-learn, SciPy, pandas or pyarrow, so a cold ``churnctl predict --json``
costs little more than starting Python and numpy. The rows are typed by :mod:`churnctl.contract.rows` with
the rules and messages of :func:`churnctl.contract.frames.prepare_features`, and the predictions are those
of the scikit-learn pipeline. When the version has no compiled model (trained before churnctl
wrote one, or with a pipeline the compiler does not reproduce), :func:`load_compiled` returns None
and the caller scores with :func:`churnctl.lifecycle.predict.predict_parsed_rows`.

:class:`CompiledPredictor` is loaded once and scores many requests (``churnctl serve``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from churnctl.config import Settings
from churnctl.contract.rows import NotReproducible, require_features, type_rows, unseen_warnings
from churnctl.contract.schema import Schema
from churnctl.lifecycle.results import PredictRowsResult, warn
from churnctl.model.compiled.scorer import FILE_NAME, CompiledFormatError, CompiledModel
from churnctl.model.predictions import calibrate, high_risk_cut, json_predictions
from churnctl.registry import Registry, ids

log = logging.getLogger("churnctl")
PIPELINE_FILE = "model.joblib"


@dataclass(frozen=True)
class CompiledPredictor:
    """A version's compiled model with what its predictions need: schema, threshold, calibration."""

    version: str
    schema: Schema
    threshold: float
    calibration: dict[str, Any] | None
    model: CompiledModel

    def predict(self, rows: list[dict], single: bool, name: str, high: float) -> PredictRowsResult:
        """Predictions of parsed JSON rows (``high``: where high risk starts, see
        :func:`churnctl.model.predictions.high_risk_cut`). Raises :class:`churnctl.contract.rows.InvalidRows` for rows
        that break the schema (numbers too large to model included) and
        :class:`churnctl.contract.rows.NotReproducible` for rows only the scikit-learn path scores exactly as it
        always has."""
        require_features(rows, self.schema, name)
        typed = type_rows(rows, self.schema, name)
        proba = calibrate(self.model.predict_proba(typed.numbers, typed.texts), self.calibration)
        return PredictRowsResult(
            model_version=self.version,
            single=single,
            predictions=json_predictions(rows, proba, self.schema, self.threshold, high, self.version),
            warnings=warn(unseen_warnings(typed.unseen, name)),
        )


def load_compiled(
    registry: Registry, version: str, manifest: dict[str, Any], *, pipeline_checked: bool = False
) -> CompiledPredictor | None:
    """The compiled model of ``version`` (``manifest``: its checked manifest), or None when it has
    none that this churnctl can use (logged at debug level).

    The pipeline's checksum is checked too (unless the caller loaded it already: ``pipeline_checked``),
    so a damaged version is refused on either path.
    """
    if FILE_NAME not in manifest["files"]:
        log.debug("model %s has no compiled scorer (%s): scoring with scikit-learn", version, FILE_NAME)
        return None
    if not pipeline_checked:
        registry.model_bytes(version, PIPELINE_FILE, manifest)  # checked, not loaded
    try:
        compiled = CompiledModel.from_bytes(registry.model_bytes(version, FILE_NAME, manifest))
    except CompiledFormatError as exc:
        log.debug("model %s: %s: scoring with scikit-learn", version, exc)
        return None
    schema = Schema.from_dict(manifest["schema"])
    if (compiled.numeric, compiled.categorical) != (schema.numeric_names, schema.categorical_names):
        log.debug("model %s: the compiled model's features differ from the schema: scoring with scikit-learn", version)
        return None
    return CompiledPredictor(version, schema, float(manifest["threshold"]), manifest.get("calibration"), compiled)


def predict_rows_compiled(
    registry: Registry, settings: Settings, rows: list[dict], single: bool, name: str, *, version: str | None = None
) -> PredictRowsResult | None:
    """Score parsed JSON rows with the compiled model of ``version`` (default: current), or return
    None when the version has none and scikit-learn must score them.

    The version is checked exactly as for loading its pipeline (signed manifest, file modes, the
    SHA-256 of the pipeline and of ``model.npz``), so a damaged version is refused either way.
    """
    version = ids.version_argument(version, "--model") if version is not None else registry.require_current()
    predictor = load_compiled(registry, version, registry.model_manifest(version))
    if predictor is None:
        return None
    high = high_risk_cut(predictor.threshold, settings.predict.high_risk, version)
    try:
        result = predictor.predict(rows, single, name, high)
    except NotReproducible as exc:
        log.debug("%s holds %s: scoring with scikit-learn", name, exc)
        return None
    log.debug("%d row(s) of %s scored by the compiled model of %s (numpy only)", len(rows), name, version)
    return result
