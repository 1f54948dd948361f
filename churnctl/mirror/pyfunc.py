"""A churnctl model version as an MLflow pyfunc model: its ``predict`` returns exactly churnctl's fields
(``churn_probability``, ``churn_label``, ``risk_level``, ``confidence``), computed by churnctl's own code
(the schema's checks, the fitted pipeline, the version's calibration, the prediction columns every
churnctl scoring path writes), so the answers are churnctl's to the last digit.

The model directory holds the version's pipeline and signed manifest as artifacts and churnctl's
package as code, so loading it needs scikit-learn, pandas and numpy, not an installed churnctl.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

import churnctl

FIELDS = ("churn_probability", "churn_label", "risk_level", "confidence")


class ChurnctlModel(PythonModel):
    """Scores rows of the version's features as churnctl does."""

    def load_context(self, context: Any) -> None:
        import joblib

        from churnctl.contract.schema import Schema

        manifest = json.loads(Path(context.artifacts["manifest"]).read_text(encoding="utf-8"))
        self.pipeline = joblib.load(context.artifacts["model"])
        self.schema = Schema.from_dict(manifest["schema"])
        self.threshold = float(manifest["threshold"])
        self.calibration = manifest.get("calibration")
        self.high = float(json.loads(Path(context.artifacts["scoring"]).read_text(encoding="utf-8"))["high"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from churnctl.contract.frames import prepare_features
        from churnctl.model.predictions import calibrate, prediction_columns

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        X, _ = prepare_features(frame.reset_index(drop=True), self.schema, source="MLflow input")
        proba = calibrate(self.pipeline.predict_proba(X)[:, 1], self.calibration)
        return pd.DataFrame(prediction_columns(proba, self.threshold, self.high))[list(FIELDS)]


def _mlflow_type(spec: Any) -> str:
    """How MLflow types a feature: whole numbers that were never missing as ``long`` (MLflow will not
    turn a file's integers into doubles), other numbers as ``double``, categories as ``string``."""
    if spec.dtype != "number":
        return "string"
    return "long" if spec.integer and spec.missing_rate == 0 else "double"


def example_rows(rows: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """Reference rows typed as the signature says, for the model's input example."""
    out = rows[schema.feature_names].head(5).copy()
    for spec in schema.features:
        kind = _mlflow_type(spec)
        out[spec.name] = out[spec.name].astype({"long": "int64", "double": "float64"}.get(kind, object))
    return out


def signature(schema: Any) -> Any:
    """Inputs from churnctl's schema (see :func:`_mlflow_type`; every input optional, as churnctl
    takes a missing value), outputs churnctl's four fields."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs: list[Any] = [ColSpec(_mlflow_type(f), f.name, required=False) for f in schema.features]
    outputs: list[Any] = [
        ColSpec("double", "churn_probability"),
        ColSpec("long", "churn_label"),
        ColSpec("string", "risk_level"),
        ColSpec("double", "confidence"),
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def model_kwargs(folder: Path, model_file: bytes, manifest: dict[str, Any], high: float, example: pd.DataFrame) -> dict:
    """What ``mlflow.pyfunc.save_model`` / ``log_model`` take for a version, its files written into
    ``folder`` (a scratch folder the caller removes)."""
    from churnctl.contract.schema import Schema

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.joblib").write_bytes(model_file)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (folder / "scoring.json").write_text(json.dumps({"high": high, "version": manifest["version"]}), encoding="utf-8")
    code = folder / "code" / "churnctl"
    shutil.copytree(Path(churnctl.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__"))
    import joblib
    import numpy
    import sklearn

    return {
        "python_model": ChurnctlModel(),
        "artifacts": {
            "model": str(folder / "model.joblib"),
            "manifest": str(folder / "manifest.json"),
            "scoring": str(folder / "scoring.json"),
        },
        "code_paths": [str(code)],
        "signature": signature(Schema.from_dict(manifest["schema"])),
        "input_example": example_rows(example, Schema.from_dict(manifest["schema"])),
        "pip_requirements": [
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={numpy.__version__}",
            f"joblib=={joblib.__version__}",
            f"mlflow=={mlflow.__version__}",
        ],
    }
