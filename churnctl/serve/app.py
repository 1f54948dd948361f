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
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline

import churnctl
from churnctl.config import load_settings
from churnctl.contract.problems import InvalidRows, Problem
from churnctl.contract.rows import NotReproducible, missing_features, parse_json_rows, type_rows
from churnctl.data.predlog import PredictionLog, log_folder
from churnctl.errors import ChurnctlError, DataError
from churnctl.logs import configure_logging, route_server_logs
from churnctl.model.scorer import PredictRowsResult
from churnctl.registry import Registry
from churnctl.registry.signing import KeySource
from churnctl.serve.guard import Guard
from churnctl.serve.holder import ModelHolder, ServedModel
from churnctl.serve.openapi import add_model
from churnctl.serve.options import ServeOptions, api_key
from churnctl.serve.prometheus import CONTENT_TYPE, ServiceMetrics, worker_exited

log = logging.getLogger("churnctl")
SOURCE = "request"  # how messages name the request body ("request: column 'Age' expects numbers ...")
INLINE_ROWS = 32  # up to this many rows are scored on the event loop by the compiled model
DETAIL_ROWS = 100  # rows listed per problem in a 422 (``n_rows`` gives them all)
WARNINGS_HEADER_BYTES = 4096
SCHEMA_VERSION = 1
DOCS_ASSETS = "/docs/assets"  # Swagger UI's script, style sheet and icon, served by churnctl itself
EXPLAIN = "true: each prediction carries the 3 features that moved its probability most, as `reasons`"
DESCRIPTION = (
    "Churn predictions from the current model version of a churnctl artifacts directory. "
    "`POST /predict` takes one customer object or a list and answers as `churnctl predict --json`."
)


@dataclass
class Service:
    """What the handlers share, kept in ``app.state.service``."""

    options: ServeOptions
    holder: ModelHolder
    metrics: ServiceMetrics
    predictions: PredictionLog | None
    log_writer: _LogWriter | None
    secured: bool
    openapi: dict[str | None, dict[str, Any]] = field(default_factory=dict)  # per model version


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
    )
    api = FastAPIOffline(  # /docs from Swagger UI files shipped in the wheel: no CDN, works offline
        title="churnctl",
        version=churnctl.__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        redoc_url=None,
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},  # no call to swagger.io's validator either
    )
    log_writer = _LogWriter(predictions, metrics) if predictions is not None else None
    api.state.service = Service(options, holder, metrics, predictions, log_writer, api_key() is not None)
    api.state.holder = holder
    api.openapi = partial(_openapi, api)  # type: ignore[method-assign]  # regenerated for each model version
    scoring: list[str | Enum] = ["predictions"]
    operations: list[str | Enum] = ["operations"]
    summary = "Score one customer or a list of customers"
    api.add_api_route("/predict", predict, methods=["POST"], summary=summary, tags=scoring, operation_id="predict")
    summary = "200 when a model is loaded, else 503"
    api.add_api_route("/health", health, methods=["GET"], summary=summary, tags=operations, operation_id="health")
    api.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
    summary = "The served model: version, metrics and schema"
    api.add_api_route("/model", model, methods=["GET"], summary=summary, tags=scoring, operation_id="model")
    summary = "Prometheus metrics"
    api.add_api_route("/metrics", prometheus, methods=["GET"], summary=summary, tags=operations, operation_id="metrics")
    api.add_exception_handler(Exception, internal)
    return Guard(api, metrics, options.max_body_bytes, api_key())


@asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    service: Service = api.state.service
    await run_in_threadpool(service.holder.refresh)
    service.holder.start()
    if service.predictions is not None:
        service.predictions.start()
    try:
        yield
    finally:
        service.holder.stop()
        if service.predictions is not None:
            service.predictions.close()
        worker_exited(os.getpid())


def _openapi(api: FastAPI) -> dict[str, Any]:
    service: Service = api.state.service
    served = service.holder.current
    version = served.version if served else None
    if version not in service.openapi:
        document = get_openapi(title=api.title, version=api.version, description=api.description, routes=api.routes)
        service.openapi[version] = add_model(document, served.schema if served else None, version, service.secured)
    return service.openapi[version]


async def predict(request: Request, explain: Annotated[bool, Query(description=EXPLAIN)] = False) -> Response:
    """One object gets one prediction, a list gets a list in the same order. With
    `?explain=true` each prediction carries its top 3 `reasons`."""
    service: Service = request.app.state.service
    served = service.holder.current
    if served is None:
        return _unavailable(service.holder)
    try:
        rows, single = _parse(await request.body())
    except DataError as exc:
        return _invalid([{"loc": ["body"], "msg": exc.message, "type": "invalid_json"}], exc.hint)
    if len(rows) > service.options.max_rows:
        return _json(
            413,
            {
                "detail": f"the request holds {len(rows)} rows, more than the limit of {service.options.max_rows}",
                "hint": "send fewer rows per request (predict --input scores batches), or raise [serve] max_rows",
            },
        )
    inline = len(rows) <= INLINE_ROWS and served.scorer.compiled_first(explain)
    try:
        result = (
            _answer(served, rows, single, explain)
            if inline
            else await run_in_threadpool(_answer, served, rows, single, explain)
        )
    except InvalidRows:
        problems = _all_problems(served, rows) if inline else await run_in_threadpool(_all_problems, served, rows)
        return _invalid([_detail(p, single) for p in problems], problems[0].hint)
    except DataError as exc:
        return _invalid([{"loc": ["body"], "msg": exc.message, "type": "invalid_rows"}], exc.hint)
    except ChurnctlError as exc:  # the model's files, read after loading (the reference, for explain)
        log.error("model %s cannot answer: %s", served.version, exc)
        return _json(503, {"detail": "the served model's files cannot be read; the server's log has the details"})
    service.metrics.rows.labels(served.version).inc(len(rows))
    if service.log_writer is not None:
        service.log_writer.log(served, rows, result)
    headers = {"X-Churnctl-Model-Version": served.version}
    if result.warnings:
        headers["X-Churnctl-Warnings"] = _warnings_header(result.warnings)
    return _json(200, result.document(), headers)


async def health(request: Request) -> Response:
    """Open to all (probes, load balancers): says whether a model answers, never why not in detail
    (that is in `/model` and the server's log)."""
    holder: ModelHolder = request.app.state.service.holder
    served = holder.current
    if served is None:
        return _unavailable(holder)
    document: dict[str, Any] = {"status": "ok", "model_version": served.version}
    if holder.failure is not None:
        document["reload_error"] = "a newer model version cannot be loaded; see /model"
    return _json(200, document)


async def model(request: Request) -> Response:
    holder: ModelHolder = request.app.state.service.holder
    served = holder.current
    if served is None:
        return _unavailable(holder, detailed=True)
    return _json(200, _model_document(served, holder))


async def prometheus(request: Request) -> Response:
    return Response(request.app.state.service.metrics.exposition(), media_type=CONTENT_TYPE)


async def internal(request: Request, exc: Exception) -> Response:
    log.error("internal error answering %s %s: %r", request.method, request.url.path, exc, exc_info=exc)
    return _json(500, {"detail": "internal error; the server's log has the details"})


def app_from_environment() -> Guard:
    """The application of one uvicorn worker process (``--workers N``): options from the environment."""
    options = ServeOptions.from_env()
    configure_logging(options.verbosity, options.json_logs)
    route_server_logs(options.verbosity, options.access_log)
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
    return served.scorer.score_rows(rows, single, SOURCE, explain=explain)


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
    """A 422 ``detail`` item in FastAPI's shape (``loc``: the first row concerned, ``msg``, ``type``) plus
    the rows concerned (from 1; the first :data:`DETAIL_ROWS`) and their number."""
    where: list[Any] = ["body"] if single else ["body", problem.rows[0]]
    return {
        "loc": [*where, problem.field],
        "msg": problem.message,
        "type": problem.kind,
        "rows": [r + 1 for r in problem.rows[:DETAIL_ROWS]],
        "n_rows": len(problem.rows),
    }


def _invalid(detail: list[dict[str, Any]], hint: str | None) -> Response:
    return _json(422, {"detail": detail, "hint": hint} if hint else {"detail": detail})


def _unavailable(holder: ModelHolder, detailed: bool = False) -> Response:
    """503: no model answers; why in detail only where the API key guards it (``/model``)."""
    reason = "no model is loaded"
    if holder.failure is not None and (detailed or holder.failure.version is not None):
        reason = holder.failure.error if detailed else "the current model version cannot be loaded"
    return _json(503, {"status": "unavailable", "detail": reason, "hint": "see GET /model and the server's log"})


def _json(status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class _LogWriter:
    """Appends answered requests to the prediction log; a failure (a full disk) is counted and logged
    at most once a minute, and the answer still goes out."""

    def __init__(self, predictions: PredictionLog, metrics: ServiceMetrics):
        self.predictions, self.metrics = predictions, metrics
        self._last_error = 0.0

    def log(self, served: ServedModel, rows: list[dict], result: PredictRowsResult) -> None:
        try:
            self.predictions.write(served.version, rows, result.predictions, served.fields)
        except OSError as exc:
            self.metrics.log_errors.inc()
            if time.monotonic() - self._last_error > 60:
                self._last_error = time.monotonic()
                log.error("cannot append to the prediction log %s: %s", self.predictions.folder, exc)


def _warnings_header(warnings: list[str]) -> str:
    """The warnings as a JSON list (ASCII: header-safe), cut to :data:`WARNINGS_HEADER_BYTES`."""
    text = json.dumps(warnings)
    if len(text) <= WARNINGS_HEADER_BYTES:
        return text
    kept: list[str] = []
    for warning in warnings:
        if len(json.dumps([*kept, warning[:500], "…"])) > WARNINGS_HEADER_BYTES:
            break
        kept.append(warning[:500])
    return json.dumps([*kept, f"… {len(warnings) - len(kept)} more warning(s)"])


def _model_document(served: ServedModel, holder: ModelHolder) -> dict[str, Any]:
    manifest = served.scorer.manifest
    document = {
        "schema_version": SCHEMA_VERSION,
        "model_version": served.version,
        "created": manifest.get("created"),
        "dataset_id": manifest.get("dataset_id"),
        "estimator": manifest.get("estimator"),
        "params": manifest.get("params"),
        "threshold": served.scorer.threshold,
        "high_risk_from": served.scorer.high,
        "calibration": (manifest.get("calibration") or {}).get("method", "none"),
        "cv_roc_auc": manifest.get("cv_roc_auc"),
        "test_metrics": manifest.get("test_metrics"),
        "feature_importance": manifest.get("feature_importance"),
        "schema": manifest.get("schema"),
        "scorer": served.scorer.scorer_name,
        "loaded_at": served.loaded_at,
    }
    if holder.failure is not None:
        document["reload_error"] = holder.failure.error
    return document
