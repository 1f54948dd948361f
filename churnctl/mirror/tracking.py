"""Talking to MLflow: one run per churnctl model version, its registered model version, the aliases.

Every object churnctl makes carries tags (``churnctl_version``, ``churnctl_registry``), which is how a
later sync finds what is already there: mirroring is idempotent, and two registries can share a server.
A run is complete once it carries ``churnctl_mirrored = true`` (set last); a run opened by ``train`` (so
that the signed manifest can name it) and never completed is completed by the next sync.

Requests give up after ``[mlflow] timeout`` seconds without MLflow's long retry schedule: a mirror must
not hold a cron job for minutes when the server is down.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger("churnctl")

CHAMPION = "champion"
CHALLENGER = "challenger"


class MirrorError(Exception):
    """The server could not be reached or refused a request."""


@dataclass
class VersionPayload:
    """What is mirrored of one churnctl model version."""

    version: str
    manifest: dict[str, Any]
    model_file: bytes
    high: float
    example: pd.DataFrame
    dataset: dict[str, Any]  # id, source, sha256, rows, path
    report_html: str | None = None
    retrain: dict[str, Any] | None = None  # the retrain event that made it a challenger


@dataclass
class Mirrored:
    runs: dict[str, str] = field(default_factory=dict)  # churnctl version -> complete run id
    open_runs: dict[str, str] = field(default_factory=dict)  # churnctl version -> run opened, not complete
    models: dict[str, str] = field(default_factory=dict)  # churnctl version -> registered model version


def quiet_mlflow(timeout: float | None = None) -> None:
    """MLflow as a library of this command: no links and banners on the terminal, no telemetry, and
    (with ``timeout``) requests that give up after that many seconds, without MLflow's retries."""
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # stdout is the JSON document
    if timeout is not None:
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(timeout)))
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")


class Tracking:
    def __init__(self, uri: str, experiment: str, model_name: str, registry_id: str, timeout: float):
        quiet_mlflow(timeout)
        import mlflow
        from mlflow import MlflowClient

        del mlflow
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.experiment, self.model_name, self.registry_id = experiment, model_name, registry_id
        self._experiment_id: str | None = None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # an unreachable server raises from requests, urllib3 or MLflow itself
            raise MirrorError(f"{what}: {_reason(exc)}") from None

    @contextmanager
    def _fluent(self) -> Iterator[None]:
        """MLflow's module-level API (logging a model) pointed at this server while the block runs,
        and the process's settings (which MLflow keeps in environment variables) as they were after."""
        import mlflow

        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        before = mlflow.get_tracking_uri() if saved["MLFLOW_TRACKING_URI"] else None
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None unsets it
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self._call("reading the experiment", self.client.get_experiment_by_name, self.experiment)
            if found is None:
                self._experiment_id = self._call(
                    "creating the experiment", self.client.create_experiment, self.experiment
                )
            else:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    def mirrored(self) -> Mirrored:
        """What this registry already has on the server."""
        out = Mirrored()
        runs = self._call(
            "listing runs",
            self.client.search_runs,
            [self.experiment_id()],
            filter_string=f"tags.churnctl_registry = '{self.registry_id}'",
            max_results=50_000,
        )
        for run in runs:
            version = run.data.tags.get("churnctl_version")
            if version and run.data.tags.get("churnctl_mirrored") == "true":
                out.runs[version] = run.info.run_id
            elif version:
                out.open_runs.setdefault(version, run.info.run_id)
        try:
            versions = self.client.search_model_versions(f"name='{self.model_name}'")
        except Exception as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc) or "not found" in str(exc).lower():
                return out
            raise MirrorError(f"listing model versions: {_reason(exc)}") from None
        for mv in versions:
            if mv.tags.get("churnctl_registry") == self.registry_id and mv.tags.get("churnctl_version"):
                out.models[mv.tags["churnctl_version"]] = str(mv.version)
        return out

    def open_run(self, version: str, dataset_id: str) -> str:
        run = self._call(
            "creating a run",
            self.client.create_run,
            self.experiment_id(),
            run_name=version,
            tags=self._tags(version, churnctl_dataset_id=dataset_id),
        )
        return str(run.info.run_id)

    def _tags(self, version: str, **more: str) -> dict[str, str]:
        return {"churnctl_version": version, "churnctl_registry": self.registry_id, **more}

    def log_version(self, payload: VersionPayload, run_id: str | None) -> str:
        """Log (or complete) the run of a version; its run id."""
        run_id = run_id or self.open_run(payload.version, payload.dataset["id"])
        params, metrics = run_figures(payload.manifest, payload.retrain)
        from mlflow.entities import Metric, Param, RunTag

        stamp = int(time.time() * 1000)
        self._call(
            "logging parameters and metrics",
            self.client.log_batch,
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[
                RunTag(k, v) for k, v in self._tags(payload.version, churnctl_dataset_id=payload.dataset["id"]).items()
            ],
        )
        self._log_dataset(run_id, payload.dataset)
        with tempfile.TemporaryDirectory(prefix="churnctl-mlflow-") as scratch:
            folder = Path(scratch)
            (folder / "manifest.json").write_text(json.dumps(payload.manifest, indent=2), encoding="utf-8")
            (folder / "schema.json").write_text(json.dumps(payload.manifest["schema"], indent=2), encoding="utf-8")
            files = [folder / "manifest.json", folder / "schema.json"]
            if payload.report_html is not None:
                (folder / "evaluation.html").write_text(payload.report_html, encoding="utf-8")
                files.append(folder / "evaluation.html")
            for path in files:
                self._call(f"uploading {path.name}", self.client.log_artifact, run_id, str(path), "churnctl")
            self._log_model(run_id, payload, folder / "model")
        self.finish(run_id)
        return run_id

    def _log_dataset(self, run_id: str, dataset: dict[str, Any]) -> None:
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        source = resolve_dataset_source(dataset["path"])
        digest = str(dataset.get("sha256") or dataset["id"])[:36]
        meta = MetaDataset(source, name=dataset["id"], digest=digest)  # type: ignore[abstract]
        entry = DatasetInput(meta._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "training")])
        self._call("logging the dataset", self.client.log_inputs, run_id, datasets=[entry])

    def _log_model(self, run_id: str, payload: VersionPayload, folder: Path) -> None:
        import mlflow

        from churnctl.mirror.pyfunc import model_kwargs

        kwargs = model_kwargs(folder, payload.model_file, payload.manifest, payload.high, payload.example)
        with self._fluent():
            with mlflow.start_run(run_id=run_id):
                info = self._call("logging the model", mlflow.pyfunc.log_model, name="model", **kwargs)
            mv = self._call(
                "registering the model",
                mlflow.register_model,
                info.model_uri,
                self.model_name,
                tags=self._tags(payload.version, churnctl_run_id=run_id),
            )
        log.debug("%s registered as %s version %s", payload.version, self.model_name, mv.version)

    def set_roles(self, models: dict[str, str], current: str | None, challengers: set[str]) -> None:
        """The ``champion`` alias on the current version's model version; ``churnctl_role`` tags on all."""
        for version, number in models.items():
            role = "champion" if version == current else ("challenger" if version in challengers else "retired")
            self._call("tagging a model version", self.client.set_model_version_tag, self.model_name, number,
                       "churnctl_role", role)  # fmt: skip
        if current in models:
            self._call("moving the champion alias", self.client.set_registered_model_alias, self.model_name, CHAMPION,
                       models[current])  # fmt: skip
        latest = [v for v in sorted(challengers) if v in models]
        if latest:
            self._call("moving the challenger alias", self.client.set_registered_model_alias, self.model_name,
                       CHALLENGER, models[latest[-1]])  # fmt: skip
        elif models:
            try:  # no challenger now: the alias must not name a champion or a retired version
                self.client.delete_registered_model_alias(self.model_name, CHALLENGER)
            except Exception as exc:  # an alias that was never set is what we want
                if "RESOURCE_DOES_NOT_EXIST" not in str(exc) and "not found" not in str(exc).lower():
                    raise MirrorError(f"removing the challenger alias: {_reason(exc)}") from None

    def finish(self, run_id: str) -> None:
        """Mark a run complete (its model was registered before a failure cut the run short)."""
        self._call("finishing the run", self.client.set_tag, run_id, "churnctl_mirrored", "true")
        self._call("finishing the run", self.client.set_terminated, run_id)


def _reason(exc: Exception) -> str:
    """What went wrong, in a line: a server that does not answer is said plainly."""
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "NewConnectionError" in text or "Failed to establish" in text:
        return "the server does not answer (connection refused)"
    if "timed out" in text.lower() or "ReadTimeout" in text:
        return "the server did not answer in time"
    return text.splitlines()[0][:300]


def run_figures(manifest: dict[str, Any], retrain: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, float]]:
    """A version's parameters (the estimator and its parameters, threshold and policy, split and seed) and
    metrics (cross-validated, test, calibration, retrain's champion and challenger figures)."""
    split = manifest.get("split") or {}
    params = {
        "estimator": manifest.get("estimator"),
        "threshold": manifest.get("threshold"),
        "threshold_policy": manifest.get("threshold_strategy"),
        "calibration": (manifest.get("calibration") or {}).get("method")
        if isinstance(manifest.get("calibration"), dict)
        else manifest.get("calibration"),
        "split_kind": split.get("kind"),
        "seed": manifest.get("seed"),
        "cv_folds": manifest.get("cv_folds"),
        "cv_kind": manifest.get("cv_kind"),
        "dataset_id": manifest.get("dataset_id"),
        **{f"model.{k}": v for k, v in (manifest.get("params") or {}).items()},
    }
    metrics: dict[str, float] = {}
    for key in ("cv_roc_auc", "cv_roc_auc_std"):
        _number(metrics, key, manifest.get(key))
    for key, value in (manifest.get("test_metrics") or {}).items():
        _number(metrics, f"test_{key}", value)
    for key, value in (manifest.get("calibration_brier") or {}).items():
        _number(metrics, f"calibration_brier_{key}", value)
    for key, value in ((retrain or {}).get("metrics") or {}).items():
        _number(metrics, f"retrain_{key}", value)
    text = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in params.items() if v is not None}
    return {k: v[:6000] for k, v in text.items()}, metrics


def _number(out: dict[str, float], key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, dict):
            for k, v in value.items():
                _number(out, f"{key}_{k}", v)
        return
    if value == value and abs(value) != float("inf"):
        out[key.replace(" ", "_")] = float(value)
