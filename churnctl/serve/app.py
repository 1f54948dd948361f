"""The FastAPI application of ``churnctl serve``.

``POST /predict`` answers as ``churnctl predict --json`` does, field for field: the rows are parsed,
checked against the served model's schema and scored by the same core (the compiled numpy scorer for
a few rows, on the event loop; the scikit-learn pipeline in a worker thread for explanations, long
lists and rows only it types exactly). Bad input is a 422 whose ``detail`` lists each problem (its
``loc``, the CLI's message as ``msg``, its ``type`` and its ``rows``); nothing internal reaches a
client. Request bodies are read by :class:`churnctl.serve.guard.Guard`, which also checks the API key
and the size limit.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

import churnctl
from churnctl.config import load_settings
from churnctl.errors import DataError
from churnctl.lifecycle.results import PredictRowsResult
from churnctl.logs import configure_logging
from churnctl.predlog import PredictionLog, log_folder
from churnctl.registry import Registry
from churnctl.registry.signing import KeySource
from churnctl.rows import InvalidRows, NotReproducible, Problem, missing_features, parse_json_rows, type_rows
from churnctl.serve.guard import Guard
from churnctl.serve.holder import ModelHolder, ServedModel
from churnctl.serve.metrics import CONTENT_TYPE, ServiceMetrics, worker_exited
from churnctl.serve.openapi import add_model
from churnctl.serve.options import ServeOptions, api_key

log = logging.getLogger("churnctl")
SOURCE = "request"  # how messages name the request body ("request: column 'Age' expects numbers ...")
INLINE_ROWS = 32  # up to this many rows are scored on the event loop by the compiled model
SCHEMA_VERSION = 1
DESCRIPTION = (
    "Churn predictions from the current model version of a churnctl artifacts directory. "
    "`POST /predict` takes one customer object or a list and answers as `churnctl predict --json`."
)


def create_app(options: ServeOptions) -> Guard:
    """The application, wrapped in its :class:`~churnctl.serve.guard.Guard` (an ASGI callable)."""
    settings = load_settings(options.config)
    registry = Registry(options.artifacts, KeySource(settings.security.key_file, artifacts=options.artifacts_path))
    metrics = ServiceMetrics()
    predictions = (
        PredictionLog(log_folder(options.artifacts), options.log_rotation, options.log_keep_days)
        if options.log_predictions
        else None
    )
    holder = ModelHolder(
        registry,
        settings,
        options.reload_seconds,
        on_load=lambda old, new: _loaded(metrics, old, new),
        on_failure=lambda message: metrics.reloads.labels("failed").inc(),
        tick=predictions.sync if predictions else lambda: None,
    )
    secured = api_key() is not None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(holder.refresh)
        holder.start()
        try:
            yield
        finally:
            holder.stop()
            if predictions is not None:
                predictions.close()
            worker_exited(os.getpid())

    api = FastAPI(
        title="churnctl",
        version=churnctl.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
    )
    api.state.holder = holder
    openapi_cache: dict[str | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        served = holder.current
        version = served.version if served else None
        if version not in openapi_cache:
            document = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
            openapi_cache[version] = add_model(document, served.schema if served else None, version, secured)
        return openapi_cache[version]

    api.openapi = openapi  # type: ignore[method-assign]  # regenerated for each model version

    @api.post("/predict", summary="Score one customer or a list of customers")
    async def predict(request: Request, explain: bool = False) -> Response:
        """One object gets one prediction, a list gets a list in the same order. With
        `?explain=true` each prediction carries its top 3 `reasons`."""
        served = holder.current
        if served is None:
            return _unavailable(holder)
        try:
            rows, single = _parse(await request.body())
        except DataError as exc:
            return _invalid([{"loc": ["body"], "msg": exc.message, "type": "invalid_json"}], exc.hint)
        try:
            if explain or len(rows) > INLINE_ROWS or served.compiled is None:
                result = await run_in_threadpool(_answer, served, rows, single, explain)
            else:
                result = _answer(served, rows, single, explain)
        except InvalidRows:
            problems = _all_problems(served, rows)
            return _invalid([_detail(p, single) for p in problems], problems[0].hint)
        except DataError as exc:
            return _invalid([{"loc": ["body"], "msg": exc.message, "type": "invalid_rows"}], exc.hint)
        metrics.rows.labels(served.version).inc(len(rows))
        if predictions is not None:
            _log_predictions(predictions, metrics, served, rows, result)
        headers = {"X-Churnctl-Model-Version": served.version}
        if result.warnings:
            headers["X-Churnctl-Warnings"] = json.dumps(result.warnings)  # ASCII: header-safe
        return _json(200, result.document(), headers)

    @api.get("/health", summary="200 when a model is loaded, else 503")
    async def health() -> Response:
        served = holder.current
        if served is None:
            return _unavailable(holder)
        document: dict[str, Any] = {"status": "ok", "model_version": served.version}
        if holder.failure is not None:
            document["reload_error"] = holder.failure.error
        return _json(200, document)

    @api.get("/model", summary="The served model: version, metrics and schema")
    async def model() -> Response:
        served = holder.current
        if served is None:
            return _unavailable(holder)
        return _json(200, _model_document(served, holder))

    @api.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    @api.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("internal error answering %s %s: %r", request.method, request.url.path, exc, exc_info=exc)
        return _json(500, {"detail": "internal error; the server's log has the details"})

    return Guard(api, metrics, options.max_body_bytes, api_key())


def app_from_environment() -> Guard:
    """The application of one uvicorn worker process (``--workers N``): options from the environment."""
    options = ServeOptions.from_env()
    configure_logging(options.verbosity, options.json_logs)
    return create_app(options)


def _loaded(metrics: ServiceMetrics, old: ServedModel | None, new: ServedModel) -> None:
    if old is not None:
        metrics.reloads.labels("loaded").inc()
    metrics.model_changed(old.version if old else None, new.version, new.loaded_at)


def _parse(body: bytes) -> tuple[list[dict], bool]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{SOURCE} body is not UTF-8 text (byte {exc.start + 1})", hint="send UTF-8 JSON") from None
    if not text.strip():
        raise DataError(f"{SOURCE} body is empty", hint="send one JSON object or an array of objects")
    return parse_json_rows(text, SOURCE)


def _answer(served: ServedModel, rows: list[dict], single: bool, explain: bool) -> PredictRowsResult:
    fast = None if explain else served.predict_fast(rows, single, SOURCE)
    return fast if fast is not None else served.predict(rows, single, SOURCE, explain)


def _all_problems(served: ServedModel, rows: list[dict]) -> list[Problem]:
    """Every problem of the rows: absent features, then values of the wrong type in the others."""
    schema = served.schema
    problems = missing_features(rows, schema, SOURCE)
    filled = [{**dict.fromkeys(schema.feature_names), **row} for row in rows] if problems else rows
    try:
        type_rows(filled, schema, SOURCE)
    except InvalidRows as exc:
        problems += exc.problems
    except NotReproducible:
        pass
    return problems


def _detail(problem: Problem, single: bool) -> dict[str, Any]:
    """A 422 ``detail`` item in FastAPI's shape (``loc``, ``msg``, ``type``) plus the rows (from 1)."""
    where: list[Any] = ["body"] if single else ["body", problem.rows[0]]
    return {
        "loc": [*where, problem.field],
        "msg": problem.message,
        "type": problem.kind,
        "rows": [r + 1 for r in problem.rows],
    }


def _invalid(detail: list[dict[str, Any]], hint: str | None) -> Response:
    return _json(422, {"detail": detail, "hint": hint} if hint else {"detail": detail})


def _unavailable(holder: ModelHolder) -> Response:
    reason = holder.failure.error if holder.failure else "no model is loaded yet"
    return _json(503, {"status": "unavailable", "detail": reason, "hint": "train a model: churnctl train"})


def _json(status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


_last_log_error = [0.0]


def _log_predictions(
    predictions: PredictionLog, metrics: ServiceMetrics, served: ServedModel, rows: list[dict], result: Any
) -> None:
    """Append the request to the prediction log; a failure (a full disk) is counted and logged at most
    once a minute, and the answer still goes out."""
    try:
        predictions.write(served.version, rows, result.predictions, served.fields)
    except OSError as exc:
        metrics.log_errors.inc()
        if time.monotonic() - _last_log_error[0] > 60:
            _last_log_error[0] = time.monotonic()
            log.error("cannot append to the prediction log %s: %s", predictions.path or predictions.folder, exc)


def _model_document(served: ServedModel, holder: ModelHolder) -> dict[str, Any]:
    manifest = served.manifest
    document = {
        "schema_version": SCHEMA_VERSION,
        "model_version": served.version,
        "created": manifest.get("created"),
        "dataset_id": manifest.get("dataset_id"),
        "estimator": manifest.get("estimator"),
        "params": manifest.get("params"),
        "threshold": served.threshold,
        "high_risk_from": served.high,
        "calibration": (manifest.get("calibration") or {}).get("method", "none"),
        "cv_roc_auc": manifest.get("cv_roc_auc"),
        "test_metrics": manifest.get("test_metrics"),
        "feature_importance": manifest.get("feature_importance"),
        "schema": manifest.get("schema"),
        "scorer": "compiled" if served.compiled is not None else "scikit-learn",
        "loaded_at": served.loaded_at,
    }
    if holder.failure is not None:
        document["reload_error"] = holder.failure.error
    return document
