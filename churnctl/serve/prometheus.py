"""The service's Prometheus metrics (``GET /metrics``), via prometheus-client.

With ``--workers N`` (N > 1) each worker process writes its values to files in a private folder
(``PROMETHEUS_MULTIPROC_DIR``, set by :mod:`churnctl.serve.run` before the workers start) and a scrape
of any worker adds up all of them, as prometheus-client's multiprocess mode does; the model-version
gauge then carries a ``pid`` label per worker.
"""

from __future__ import annotations

import os
import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as multiprocess_mode

disable_created_metrics()  # no "_created" series doubling every counter

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Latency buckets around the service's targets (p50 5 ms, p99 20 ms), in seconds.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ENDPOINTS = ("/predict", "/health", "/model", "/metrics", "/docs", "/openapi.json")


def endpoint_label(path: str) -> str:
    """The metric label of a request path: one of :data:`ENDPOINTS`, else "other" (bounded cardinality)."""
    return path if path in ENDPOINTS else "other"


class ServiceMetrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the values live in files; the registry is built per scrape.
        self.registry = None if self.multiprocess else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "churnctl_serve_requests",
            "HTTP requests answered, by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "churnctl_serve_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by endpoint.",
            ["endpoint"],
            buckets=BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "churnctl_serve_errors",
            "Requests refused or failed, by kind: invalid_input (422), too_large (413), unauthorized (401), "
            "no_model (503), internal (500).",
            ["kind"],
            registry=r,
        )
        self.rows = Counter(
            "churnctl_serve_predicted_rows", "Customer rows scored, by model version.", ["version"], registry=r
        )
        self.model = Gauge(
            "churnctl_serve_model_info",
            "1 for the model version being served.",
            ["version"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.loaded_at = Gauge(
            "churnctl_serve_model_loaded_timestamp_seconds",
            "When the served model version was loaded (Unix time).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            "churnctl_serve_model_reloads",
            "Model loads after the current pointer moved, by outcome (loaded, failed).",
            ["outcome"],
            registry=r,
        )
        self.log_errors = Counter(
            "churnctl_serve_prediction_log_errors",
            "Requests whose rows could not be appended to the prediction log.",
            registry=r,
        )

    def model_changed(self, old: str | None, new: str, loaded_at: float) -> None:
        if old is not None:
            if self.multiprocess:
                self.model.labels(old).set(0)
            else:
                self.model.remove(old)
        self.model.labels(new).set(1)
        self.loaded_at.set(loaded_at)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        if not self.multiprocess:
            assert self.registry is not None
            return bytes(generate_latest(self.registry))
        _forget_dead_workers()
        registry = CollectorRegistry()
        multiprocess_mode.MultiProcessCollector(registry)
        return bytes(generate_latest(registry))


def _forget_dead_workers() -> None:
    """Drop the live gauges of worker processes that died without a shutdown (killed, out of memory)."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return
    for name in os.listdir(folder):
        match = re.fullmatch(r"gauge_live\w+_(\d+)\.db", name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess_mode.mark_process_dead(pid)
        except PermissionError:
            pass  # alive, another account's


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess_mode.mark_process_dead(pid)
