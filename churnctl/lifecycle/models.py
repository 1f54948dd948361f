"""models: list, show, promote, roll back, history, verify and adopt model versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from churnctl.errors import UsageError, preview
from churnctl.lifecycle.results import Result
from churnctl.registry import Registry, audit, ids


@dataclass
class ModelSummary(Result):
    version: str
    created: str
    dataset_id: str
    estimator: str
    cv_roc_auc: float | None
    test_roc_auc: float | None
    threshold: float
    status: str  # current | previous champion | rejected | not promoted


def list_models(registry: Registry) -> list[ModelSummary]:
    current = registry.current()
    history = registry.promotion_history()
    rejected = {
        _text(e.get("challenger"))
        for e in registry.events()
        if e.get("event") == "retrain" and e.get("outcome") == "rejected"
    }
    summaries = []
    for version in registry.versions():
        manifest = registry.model_manifest(version)
        status = (
            "current"
            if version == current
            else "previous champion"
            if version in history
            else "rejected"
            if version in rejected
            else "not promoted"
        )
        summaries.append(
            ModelSummary(
                version=version,
                created=manifest["created"],
                dataset_id=manifest["dataset_id"],
                estimator=manifest["estimator"],
                cv_roc_auc=manifest.get("cv_roc_auc"),
                test_roc_auc=manifest.get("test_metrics", {}).get("roc_auc"),
                threshold=manifest["threshold"],
                status=status,
            )
        )
    return summaries


def show_model(registry: Registry, version: str | None = None) -> dict[str, Any]:
    """A version's signed manifest (default: current), with ``current`` telling whether it is."""
    version = ids.version_argument(version) if version else registry.require_current()
    manifest = dict(registry.model_manifest(version))
    manifest["current"] = registry.current() == version
    return manifest


@dataclass
class PointerResult(Result):
    action: str
    current: str
    previous: str | None


def promote(registry: Registry, version: str, *, wait: float = 0.0, reason: str = "manual promote") -> PointerResult:
    version = ids.version_argument(version)
    with registry.lock(wait):
        registry.verify(version)
        previous = registry.set_current(version, repair=True)
        if previous != version:
            registry.record("model_promoted", version=version, previous=previous, reason=reason)
    return PointerResult(action="promote", current=version, previous=previous)


def rollback(registry: Registry, *, wait: float = 0.0) -> PointerResult:
    with registry.lock(wait):
        leaving, target = registry.rollback()
        registry.record("model_rolled_back", version=target, previous=leaving)
    return PointerResult(action="rollback", current=target, previous=leaving)


HISTORY_EVENTS = ("model_trained", "model_promoted", "model_rolled_back", "retrain", "models_pruned")


def history(registry: Registry) -> list[dict[str, Any]]:
    """Registry events about model versions, oldest first, flattened for display."""
    rows = []
    for event in registry.events():
        kind = event.get("event")
        if kind not in HISTORY_EVENTS:
            continue
        versions = event.get("versions")
        listed = ", ".join(map(str, versions)) if isinstance(versions, list) else None
        rows.append(
            {
                "time": _text(event.get("time")),
                "event": kind,
                "version": _text(event.get("version") or event.get("challenger") or listed),
                "previous": _text(event.get("previous") or event.get("champion")),
                "outcome": _text(event.get("outcome")),
                "reason": _text(event.get("reason")),
            }
        )
    return rows


def _text(value: object) -> str | None:
    """An event field for display: the log is not signed, so a field may hold anything."""
    return None if value is None else value if isinstance(value, str) else json.dumps(value, default=str)


def verify(registry: Registry) -> dict[str, str | None]:
    """Check every version's and dataset's signature and files; {artifact: problem or None}."""
    problems = audit.verify_all(registry)
    current = registry.current()
    if current is not None and f"model {current}" not in problems:
        problems[f"model {current}"] = "the current pointer names a version that does not exist"
    return problems


@dataclass
class AdoptResult(Result):
    adopted: list[str]


def adopt(registry: Registry, names: list[str] | None = None, *, confirm: bool, wait: float = 0.0) -> AdoptResult:
    """Sign, with this key, manifests it did not sign, after the checks a signed manifest passes.

    Without ``names``: every such manifest, and only in a directory where none is signed with this key
    yet (one written before signing existed, or signed with a key since replaced). In a directory
    this key already signs, an unsigned version is a stranger: it is signed only when named.
    Signing says "I trust what is stored here now": it needs ``confirm``.
    """
    wanted = [
        ids.version_argument(n) if not n.strip().lower().startswith("ds-") else ids.dataset_argument(n)
        for n in names or []
    ]
    with registry.lock(wait):
        pending = audit.unsigned(registry)
        if wanted:
            unknown = [n for n in wanted if n not in pending]
            if unknown:
                raise UsageError(
                    f"{preview(unknown)}: no unsigned version or dataset of that name",
                    hint=f"unsigned here: {preview(pending) if pending else 'none'}",
                )
            chosen = wanted
        else:
            if pending and registry.keys.get().key_id in registry.signing_key_ids():
                raise UsageError(
                    f"{len(pending)} manifest(s) are unsigned in a directory this key already signs: "
                    f"{preview(pending)}; they were added or altered outside churnctl",
                    hint="name the ones you have checked: 'churnctl models adopt v0003 --yes'",
                )
            chosen = list(pending)
        if chosen and not confirm:
            raise UsageError(
                f"{len(chosen)} manifest(s) are not signed with this key: {preview(chosen)}",
                hint="signing them vouches for their content: check that nobody else could write "
                f"{registry.root}, then rerun with --yes",
            )
        for name in chosen:
            audit.adopt(registry, name)
        if chosen:
            registry.record("manifests_adopted", manifests=chosen, key_id=registry.keys.get().key_id)
    return AdoptResult(adopted=chosen)
