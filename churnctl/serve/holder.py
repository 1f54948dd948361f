"""The model the server answers with, and its hot reload.

:class:`ModelHolder` loads the current version at start and then checks the registry's current pointer
every ``reload_seconds`` from a background thread. When the pointer moves (``retrain``, ``models
promote``, ``models rollback``) the new version is loaded and checked exactly as every command checks
it (signed manifest, file modes, SHA-256 of each file), and only then swapped in by one assignment: a
request takes :attr:`ModelHolder.current` once and uses that :class:`ServedModel` for everything, so
no answer mixes two versions. A version that fails its checks is not loaded; the previous one keeps
answering, the failure is logged once and shown by ``/health`` and ``/model``, and loading is
retried every :data:`RETRY_SECONDS` (a restored file is picked up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from churnctl.config import Settings
from churnctl.contract.schema import Schema
from churnctl.errors import ChurnctlError
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry

log = logging.getLogger("churnctl")
RETRY_SECONDS = 10.0


@dataclass
class ServedModel:
    """One loaded version: its :class:`~churnctl.model.scorer.Scorer` (which decides how each request's
    rows are scored) and when it was loaded."""

    scorer: Scorer
    loaded_at: float = field(default_factory=time.time)

    @property
    def version(self) -> str:
        return self.scorer.version

    @property
    def schema(self) -> Schema:
        return self.scorer.schema

    @property
    def fields(self) -> list[str]:
        """What the prediction log keeps of a row: its features and identifiers."""
        return self.schema.feature_names + self.schema.identifier_names


def load_served(registry: Registry, settings: Settings, version: str) -> ServedModel:
    """Load ``version``, each file read once and checked as every command checks it (the drift reference
    too: explanations need its typical values); raises :class:`ChurnctlError` when it cannot serve."""
    scorer = Scorer.load(registry, settings, version, eager=True)
    scorer.typical_values()
    return ServedModel(scorer)


@dataclass
class LoadFailure:
    version: str | None  # None: the pointer itself could not be read
    error: str
    since: float
    retry_at: float


class ModelHolder:
    """The current :class:`ServedModel` (None until one loads) and the thread that keeps it current.

    ``on_load(old, new)`` and ``on_failure(message)`` let the server count reloads."""

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        reload_seconds: float = 0.5,
        *,
        on_load: Callable[[ServedModel | None, ServedModel], None] = lambda old, new: None,
        on_failure: Callable[[str], None] = lambda message: None,
    ):
        self.registry, self.settings, self.reload_seconds = registry, settings, reload_seconds
        self.current: ServedModel | None = None
        self.failure: LoadFailure | None = None
        self._on_load, self._on_failure = on_load, on_failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()

    def refresh(self) -> None:
        """Load the version the pointer names, if it is not the one being served."""
        with self._refresh_lock:
            now = time.time()
            try:
                version = self.registry.current()
            except (ChurnctlError, OSError) as exc:
                self._failed(None, str(exc), now)
                return
            if version is None:
                if self.current is None and self.failure is None:
                    message = f"no current model in {self.registry.root}: /health answers 503 until one is trained"
                    log.warning(message)
                    self.failure = LoadFailure(None, message, now, now)
                return
            if self.current is not None and version == self.current.version:
                if self.failure is not None:
                    self.failure = None  # the pointer is back on what is served
                return
            if self.failure is not None and self.failure.version == version and now < self.failure.retry_at:
                return
            started = time.monotonic()
            try:
                served = load_served(self.registry, self.settings, version)
            except (ChurnctlError, OSError) as exc:
                self._failed(version, str(exc), now)
                return
            old, self.current, self.failure = self.current, served, None
            took = time.monotonic() - started
            if old is None:
                log.info("serving model %s (loaded in %.2f s)", version, took)
            else:
                log.info("now serving model %s instead of %s (loaded in %.2f s)", version, old.version, took)
            self._on_load(old, served)

    def _failed(self, version: str | None, error: str, now: float) -> None:
        repeated = self.failure is not None and (self.failure.version, self.failure.error) == (version, error)
        since = self.failure.since if repeated and self.failure is not None else now
        self.failure = LoadFailure(version, error, since, now + RETRY_SECONDS)
        if repeated:
            log.debug("model %s still cannot be loaded: %s", version, error)
            return
        serving = f"model {self.current.version} keeps serving" if self.current else "no model is served"
        what = f"model {version}" if version else "the current model pointer"
        log.error("cannot load %s (%s): %s", what, serving, error)
        self._on_failure(error)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="churnctl-model-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            try:
                self.refresh()
            except Exception:  # the thread must outlive any surprise; the server keeps answering
                log.exception("model reload check failed")
