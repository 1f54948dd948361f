"""The MLflow mirror, as the commands that change the registry see it (:mod:`churnctl.mirror`).

``train``, ``retrain``, ``models promote`` and ``models rollback`` call :func:`mirror` once their work is
stored and the lock released: every version the server lacks is logged (a run: parameters, metrics, the
dataset, the signed manifest, the schema, the evaluation report; a registered model version), and the
``champion`` alias is moved to the current version. A mirror never breaks the job: when the server is
down or refuses, the command still succeeds with one warning and a ``mlflow_not_mirrored`` event, and
``churnctl models sync`` (the same function, strict) mirrors what is missing later. Without a tracking
URI nothing here imports MLflow.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnctl.config import Settings
from churnctl.errors import ArtifactError, UsageError
from churnctl.lifecycle.results import Result, warn
from churnctl.model.predictions import high_risk_cut
from churnctl.registry import Registry, ids

log = logging.getLogger("churnctl")

EXTRA_HINT = "install the extra: pip install 'churnctl[mlflow]'"


@dataclass
class MirrorResult(Result):
    tracking_uri: str
    experiment: str
    registered_model: str
    logged: list[str] = field(default_factory=list)  # versions logged by this run
    already: list[str] = field(default_factory=list)  # versions the server had
    champion: str | None = None  # the version the champion alias points at
    problem: str | None = None  # why the mirror stopped (the command itself succeeded)


def tracking_uri(settings: Settings) -> str | None:
    return settings.mlflow.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None


def open_run(registry: Registry, settings: Settings, version: str, dataset_id: str) -> str | None:
    """A run opened before a version's manifest is signed, so the manifest can name it; None when there
    is no mirror or the server cannot be reached (the mirror after the command says so)."""
    uri = tracking_uri(settings)
    if uri is None:
        return None
    try:
        from churnctl.mirror.tracking import MirrorError
    except ImportError:
        return None
    try:
        return _tracking(registry, settings, uri).open_run(version, dataset_id)
    except MirrorError as exc:
        log.debug("no MLflow run opened for %s: %s", version, exc)
        return None


def mirror(registry: Registry, settings: Settings, *, strict: bool = False) -> MirrorResult | None:
    """Mirror every version the server lacks and move the aliases; None without a tracking URI. Not
    ``strict`` (after a command), a failure is one warning and an event; ``strict`` (``models sync``), an
    error (exit 4)."""
    uri = tracking_uri(settings)
    cfg = settings.mlflow
    if uri is None:
        if strict:
            raise UsageError(
                "no MLflow tracking server is configured",
                hint="set [mlflow] tracking_uri in churnctl.toml or the MLFLOW_TRACKING_URI variable",
            )
        return None
    result = MirrorResult(uri, cfg.experiment, cfg.registered_model)
    try:
        from churnctl.mirror.tracking import MirrorError
    except ImportError:
        return _failed(registry, result, "MLflow is not installed", strict, EXTRA_HINT)
    try:
        _sync(registry, settings, uri, result)
    except MirrorError as exc:
        return _failed(registry, result, str(exc), strict, "check the server, then run: churnctl models sync")
    if result.logged:
        registry.record_if_writable(
            "mlflow_mirrored", tracking_uri=uri, versions=result.logged, champion=result.champion
        )
    return result


def _failed(registry: Registry, result: MirrorResult, problem: str, strict: bool, hint: str) -> MirrorResult:
    message = f"MLflow mirror at {result.tracking_uri}: {problem}"
    if strict:
        raise ArtifactError(message, hint=hint)
    result.problem = problem
    warn([f"{message}; the command's own work is stored ({hint})"])
    registry.record_if_writable("mlflow_not_mirrored", tracking_uri=result.tracking_uri, reason=problem[:500])
    return result


def _tracking(registry: Registry, settings: Settings, uri: str) -> Any:
    from churnctl.mirror.tracking import Tracking

    cfg = settings.mlflow
    return Tracking(uri, cfg.experiment, cfg.registered_model, registry.identity() or "unbound", cfg.timeout)


def _sync(registry: Registry, settings: Settings, uri: str, result: MirrorResult) -> None:
    tracking = _tracking(registry, settings, uri)
    have = tracking.mirrored()
    events = registry.readable_events()
    for version in registry.versions():
        if version in have.runs and version in have.models:
            result.already.append(version)
            continue
        manifest = registry.model_manifest(version)
        run_id = have.runs.get(version) or have.open_runs.get(version) or manifest.get("mlflow_run_id")
        if version in have.models and run_id is not None:  # registered, then cut short: never register twice
            tracking.finish(run_id)
            result.already.append(version)
            continue
        tracking.log_version(_payload(registry, settings, version, manifest, events), run_id)
        result.logged.append(version)
    if result.logged:
        have = tracking.mirrored()
    current = registry.current()
    promoted = {e.get("version") for e in events if e.get("event") in ("model_promoted", "model_rolled_back")}
    tracking.set_roles(have.models, current, set(registry.versions()) - promoted - {current})
    result.champion = current if current in have.models else None


def _scoring(registry: Registry, settings: Settings, version: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """What the MLflow model of a version scores with: the pipeline's bytes, the high-risk cut, an
    input example (five of its reference rows)."""
    from churnctl.contract.schema import Schema

    schema = Schema.from_dict(manifest["schema"])
    reference = pd.read_parquet(io.BytesIO(registry.model_bytes(version, "reference.parquet", manifest)))
    return {
        "model_file": registry.model_bytes(version, "model.joblib", manifest),
        "high": high_risk_cut(float(manifest["threshold"]), settings.predict.high_risk, version),
        "example": reference[schema.feature_names].head(5),
    }


def _payload(registry: Registry, settings: Settings, version: str, manifest: dict[str, Any], events: list[dict]) -> Any:
    from churnctl.mirror.tracking import VersionPayload

    dataset_id = manifest["dataset_id"]
    dataset = {"id": dataset_id, "path": str(registry.datasets_dir / dataset_id), "sha256": None}
    if registry.has_dataset(dataset_id):
        dataset["sha256"] = registry.dataset_manifest(dataset_id).get("source_sha256")
    retrain = next(
        (e for e in reversed(events) if e.get("event") == "retrain" and e.get("challenger") == version), None
    )
    return VersionPayload(
        version=version,
        manifest=manifest,
        **_scoring(registry, settings, version, manifest),
        dataset=dataset,
        report_html=_report(registry, settings, version),
        retrain=retrain,
    )


def _report(registry: Registry, settings: Settings, version: str) -> str | None:
    """The version's evaluation report on its test split (None when its dataset is gone)."""
    from churnctl.errors import ChurnctlError
    from churnctl.lifecycle.evaluate import evaluate
    from churnctl.reports import render

    try:
        return render("evaluation", evaluate(registry, settings, version=version))
    except ChurnctlError as exc:
        log.debug("no evaluation report for %s: %s", version, exc)
        return None


def export_model(registry: Registry, settings: Settings, version: str, folder: Path) -> dict[str, Any]:
    """``models export VERSION --format mlflow DIR``: the version as an MLflow model directory (written
    beside ``folder`` and renamed into place; ``folder`` must not exist)."""
    version = ids.version_argument(version, "VERSION")
    if folder.exists():
        raise UsageError(f"{folder} already exists", hint="choose a new folder: the export creates it")
    if not folder.parent.is_dir():
        raise UsageError(f"folder {folder.parent} does not exist", hint="create it first")
    try:
        from churnctl.mirror.tracking import quiet_mlflow

        quiet_mlflow()
        import mlflow.pyfunc

        from churnctl.mirror.pyfunc import model_kwargs
    except ImportError:
        raise UsageError("exporting an MLflow model needs MLflow", hint=EXTRA_HINT) from None
    manifest = registry.model_manifest(version)
    payload = _scoring(registry, settings, version, manifest)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        kwargs = model_kwargs(scratch / "files", payload["model_file"], manifest, payload["high"], payload["example"])
        mlflow.pyfunc.save_model(path=str(scratch / "model"), **kwargs)
        os.replace(scratch / "model", folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"version": version, "format": "mlflow", "path": str(folder)}
