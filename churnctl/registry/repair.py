"""Bringing the event log level with what is stored, after a run was killed between a change and its
event: the next writer (holding the lock) appends the missing ``dataset_added``, ``model_trained``
and ``model_promoted`` events, marked ``"recovered": true``, so that the log tells the whole history
of what is stored.

A pointer change is recovered only when churnctl wrote it (signed) and the log has never seen its
``move``: that is a run killed between the two writes. A pointer the log does not explain otherwise
(edited by hand, or an older copy put back) is never turned into a promotion: it is reported, and
the writers that rely on it refuse it (:meth:`churnctl.registry.pointer.CurrentPointer.check_pointer_agrees`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from churnctl.errors import ArtifactError
from churnctl.registry.events import dataset_added_fields, model_trained_fields
from churnctl.registry.pointer import disagreement, last_move, unlogged


class Registry(Protocol):
    """What the repair needs of :class:`churnctl.registry.store.Registry`."""

    def events(self) -> list[dict]: ...
    def dataset_ids(self) -> list[str]: ...
    def dataset_manifest(self, dataset_id: str) -> dict: ...
    def versions(self) -> list[str]: ...
    def model_manifest(self, version: str) -> dict: ...
    def pointer_state(self) -> dict[str, Any]: ...
    def record(self, event: str, **fields: Any) -> dict[str, Any]: ...


log = logging.getLogger(__name__)

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
    try:
        pointer = registry.pointer_state()
    except ArtifactError:
        pointer = None  # damaged, unsigned or naming a missing version: reported by whoever reads it
    if pointer is not None:
        problem = disagreement(pointer, events)
        if unlogged(pointer, events):
            last = last_move(events)
            added.append(
                registry.record(
                    "model_promoted",
                    version=pointer["current"],
                    previous=_subject(last) if last else None,
                    reason=NOTE,
                    recovered=True,
                    move=pointer["move"],
                )
            )
        elif problem is not None:
            log.warning("%s; 'churnctl models verify' checks the registry", problem)
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
