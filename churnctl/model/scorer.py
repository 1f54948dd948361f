"""The one scorer: a stored model version ready to answer, whichever entry point asks (``predict
--json``, ``serve``, batch predictions, evaluation, drift checks).

It alone decides how rows are scored. JSON rows go to the version's compiled model (``model.npz``,
numpy only: no scikit-learn, SciPy, pandas or pyarrow is imported, so a cold ``predict --json`` costs
little more than starting Python) unless reasons are asked for (each row is scored once per feature
with the whole pipeline), the version has no compiled model this churnctl can use (trained before
churnctl wrote one, or with a pipeline the compiler does not reproduce), or the rows hold values only
the pandas path types exactly as it always has (:class:`churnctl.contract.rows.NotReproducible`).
Everything else is scored by the scikit-learn pipeline, loaded on first use. Either way the version
is checked exactly as for loading its pipeline (signed manifest bound to this registry, file modes,
the SHA-256 of the pipeline and of ``model.npz``), so a damaged version is refused on every path.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from churnctl.config import Settings
from churnctl.contract.rows import NotReproducible, require_features, type_rows, unseen_warnings
from churnctl.contract.schema import Schema
from churnctl.model.compiled.scorer import FILE_NAME, CompiledFormatError, CompiledModel
from churnctl.model.predictions import calibrate, high_risk_cut, json_predictions
from churnctl.registry import Registry, ids

if TYPE_CHECKING:
    import pandas as pd

    from churnctl.model.loading import LoadedModel

log = logging.getLogger("churnctl")
data_log = logging.getLogger("churnctl.data")  # warnings about the input data
PIPELINE_FILE = "model.joblib"


@dataclass
class PredictRowsResult:
    """The predictions of JSON rows (``predict --json``, ``POST /predict``)."""

    model_version: str
    single: bool
    predictions: list[dict]
    warnings: list[str] = field(default_factory=list)
    lines: bool = False  # the rows came as JSON Lines: answer one line per row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def document(self) -> Any:
        """The JSON written to stdout: one object for one input object, else an array."""
        return self.predictions[0] if self.single else self.predictions


@dataclass(frozen=True)
class CompiledPredictor:
    """A version's compiled model with what its predictions need: schema, threshold, calibration."""

    version: str
    schema: Schema
    threshold: float
    calibration: dict[str, Any] | None
    model: CompiledModel

    def probabilities(self, rows: list[dict], name: str) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
        """(calibrated churn probabilities, unseen categories) of rows that name every feature. Raises
        :class:`churnctl.contract.rows.InvalidRows` for rows that break the schema and
        :class:`NotReproducible` for rows only the scikit-learn path scores exactly as it always has."""
        typed = type_rows(rows, self.schema, name)
        return calibrate(self.model.predict_proba(typed.numbers, typed.texts), self.calibration), typed.unseen


def load_compiled(
    registry: Registry, version: str, manifest: dict[str, Any], *, pipeline_checked: bool = False
) -> CompiledPredictor | None:
    """The compiled model of ``version`` (``manifest``: its checked manifest), or None when it has
    none that this churnctl can use (logged at debug level). The pipeline's checksum is checked too
    (unless the caller loaded it already: ``pipeline_checked``)."""
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


class Scorer:
    """A model version that scores JSON rows and prepared frames (see the module's docstring)."""

    def __init__(
        self,
        registry: Registry,
        version: str,
        manifest: dict[str, Any],
        high: float,
        compiled: CompiledPredictor | None,
        pipeline: LoadedModel | None = None,
    ):
        self.registry, self.version, self.manifest, self.high = registry, version, manifest, high
        self.schema = Schema.from_dict(manifest["schema"])
        self.threshold = float(manifest["threshold"])
        self.compiled = compiled
        self._pipeline = pipeline
        self._typical: dict[str, Any] | None = None

    @classmethod
    def load(cls, registry: Registry, settings: Settings, version: str | None = None, *, eager: bool = False) -> Scorer:
        """The scorer of ``version`` (as a user typed it; default: the current one). ``eager`` (a server,
        a batch) loads the pipeline now, each file read once, instead of on first use."""
        version = ids.version_argument(version, "--model") if version is not None else registry.require_current()
        if eager:
            from churnctl.model.loading import load_model

            pipeline = load_model(registry, version)
            manifest: dict[str, Any] = pipeline.manifest
            compiled = load_compiled(registry, version, manifest, pipeline_checked=True)
        else:
            pipeline, manifest = None, registry.model_manifest(version)
            compiled = load_compiled(registry, version, manifest)
        high = high_risk_cut(float(manifest["threshold"]), settings.predict.high_risk, version)
        return cls(registry, version, manifest, high, compiled, pipeline)

    def __getstate__(self) -> dict[str, Any]:
        """Sent to the workers of a cluster with its pipeline loaded: they never open the registry."""
        state = dict(self.__dict__)
        state["_pipeline"] = self.pipeline
        state["registry"] = None
        return state

    @property
    def scorer_name(self) -> str:
        """What scores plain JSON rows: ``compiled`` or ``scikit-learn``."""
        return "compiled" if self.compiled is not None else "scikit-learn"

    def compiled_first(self, explain: bool) -> bool:
        """Whether rows (with or without reasons) go to the compiled model first: the one decision."""
        return self.compiled is not None and not explain

    # -- JSON rows -------------------------------------------------------------------------------

    def score_rows(self, rows: list[dict], single: bool, name: str, *, explain: bool = False) -> PredictRowsResult:
        """Predictions of parsed JSON rows (``single``: the input was one object; ``name`` names it in
        messages); with ``explain``, each with its top ``reasons``."""
        require_features(rows, self.schema, name)
        if self.compiled_first(explain):
            assert self.compiled is not None
            try:
                proba, unseen = self.compiled.probabilities(rows, name)
            except NotReproducible as exc:
                log.debug("%s holds %s: scoring with scikit-learn", name, exc)
            else:
                log.debug("%d row(s) of %s scored by the compiled model of %s", len(rows), name, self.version)
                return self._result(rows, single, name, proba, unseen)
        return self._score_rows_with_pipeline(rows, single, name, explain)

    def _score_rows_with_pipeline(self, rows: list[dict], single: bool, name: str, explain: bool) -> PredictRowsResult:
        import pandas as pd

        from churnctl.contract.frames import prepare_features
        from churnctl.model.explain import reasons

        X, unseen = prepare_features(pd.DataFrame.from_records(rows), self.schema, source=name)
        proba = self.predict_proba(X)
        result = self._result(rows, single, name, proba, unseen)
        if explain:
            explained = reasons(self.predict_proba, X, self.schema, self.typical_values(), base=proba)
            for record, row, why in zip(result.predictions, rows, explained, strict=True):
                record["reasons"] = [{**r, "value": row.get(r["feature"])} for r in why]  # as the caller sent it
        return result

    def _result(
        self, rows: list[dict], single: bool, name: str, proba: np.ndarray, unseen: dict[str, dict[str, int]]
    ) -> PredictRowsResult:
        records = json_predictions(rows, proba, self.schema, self.threshold, self.high, self.version)
        warnings = unseen_warnings(unseen, name)
        for message in warnings:
            data_log.warning(message)
        return PredictRowsResult(model_version=self.version, single=single, predictions=records, warnings=warnings)

    # -- prepared frames ---------------------------------------------------------------------------

    @property
    def pipeline(self) -> LoadedModel:
        """The scikit-learn pipeline, loaded (and checked) on first use."""
        if self._pipeline is None:
            from churnctl.model.loading import load_model

            self._pipeline = load_model(self.registry, self.version)
        return self._pipeline

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities of feature rows prepared by
        :func:`churnctl.contract.frames.prepare_features`."""
        return self.pipeline.predict_proba(X)

    def typical_values(self) -> dict[str, Any]:
        """The training reference's typical value per feature (what explanations compare with)."""
        if self._typical is None:
            from churnctl.model.explain import typical_values
            from churnctl.model.loading import load_reference

            self._typical = typical_values(load_reference(self.registry, self.pipeline)[0], self.schema)
        return self._typical
