"""Bringing the event log level with what is stored, after a run was killed between a change and its
event: the next writer (holding the lock) appends the missing ``dataset_added``, ``model_trained``
and ``model_promoted`` events, marked ``"recovered": true``, so that the log tells the whole history
of what is stored."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from churnctl.errors import ArtifactError
from churnctl.registry.events import dataset_added_fields, model_trained_fields


class Registry(Protocol):
    """What the repair needs of :class:`churnctl.registry.store.Registry`."""

    def events(self) -> list[dict]: ...
    def dataset_ids(self) -> list[str]: ...
    def dataset_manifest(self, dataset_id: str) -> dict: ...
    def versions(self) -> list[str]: ...
    def model_manifest(self, version: str) -> dict: ...
    def current(self) -> str | None: ...
    def record(self, event: str, **fields: Any) -> dict[str, Any]: ...


log = logging.getLogger(__name__)

POINTER_EVENTS = ("model_promoted", "model_rolled_back")
# (event, dataset or version, how to read its manifest, the event's fields from the manifest)
Stored = tuple[str, str, Callable[[str], dict], Callable[[dict[str, Any]], dict[str, Any]]]
NOTE = "recorded by a later run: the run that made this change was stopped before it logged it"


def repair_log(registry: Registry) -> list[dict[str, Any]]:
    """Append the events that stored datasets, model versions and the current pointer lack;
    returns them. Call with the lock held."""
    events = registry.events()
    logged = {(e.get("event"), _subject(e)) for e in events}
    added = []
    stored: list[Stored] = [
        ("dataset_added", d, registry.dataset_manifest, dataset_added_fields) for d in registry.dataset_ids()
    ]
    stored += [("model_trained", v, registry.model_manifest, model_trained_fields) for v in registry.versions()]
    for kind, name, read, fields in stored:
        if (kind, name) not in logged:
            manifest = _manifest(read, name)
            if manifest is not None:
                added.append(registry.record(kind, **fields(manifest), recovered=True, note=NOTE))
    moves = [e for e in events if e.get("event") in POINTER_EVENTS]
    last = _subject(moves[-1]) if moves else None
    try:
        current = registry.current()
    except ArtifactError:
        current = None  # a damaged pointer is reported by whoever reads it
    if current is not None and current != last:
        added.append(registry.record("model_promoted", version=current, previous=last, reason=NOTE, recovered=True))
    for event in added:
        log.warning("the event log lacked the %s event of %s: added", event["event"], _subject(event))
    return added


def _subject(event: dict[str, Any]) -> str | None:
    """What an event is about: the dataset of ``dataset_added``, else the model version (the log is
    not signed: a field that is not text is about nothing)."""
    subject = event.get("dataset_id") if event.get("event") == "dataset_added" else event.get("version")
    return subject if isinstance(subject, str) else None


def _manifest(read: Callable[[str], dict], name: str) -> dict[str, Any] | None:
    try:
        return dict(read(name))
    except ArtifactError:
        return None  # damaged or unsigned: 'models verify' names it; the log is not the place
