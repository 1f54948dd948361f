"""models: list, show, promote, roll back, history, verify and adopt model versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from churnctl.errors import UsageError, preview
from churnctl.lifecycle.results import Result
from churnctl.registry import Registry, ids


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
        e.get("challenger") for e in registry.events() if e.get("event") == "retrain" and e.get("outcome") == "rejected"
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
        rows.append(
            {
                "time": event.get("time"),
                "event": kind,
                "version": event.get("version") or event.get("challenger") or ", ".join(event.get("versions", [])),
                "previous": event.get("previous") or event.get("champion"),
                "outcome": event.get("outcome"),
                "reason": event.get("reason"),
            }
        )
    return rows


def verify(registry: Registry) -> dict[str, str | None]:
    """Check every version's and dataset's signature and files; {artifact: problem or None}."""
    problems = registry.verify_all()
    current = registry.current()
    if current is not None and f"model {current}" not in problems:
        problems[f"model {current}"] = "the current pointer names a version that does not exist"
    return problems


@dataclass
class AdoptResult(Result):
    adopted: list[str]


def adopt(registry: Registry, *, confirm: bool, wait: float = 0.0) -> AdoptResult:
    """Sign, with this key, every manifest it did not sign (an artifacts directory from a release
    before signing, or signed with a key since replaced), after checking every file's SHA-256.

    Signing says "I trust what is stored here now": it needs ``confirm``.
    """
    with registry.lock(wait):
        pending = registry.unsigned()
        if pending and not confirm:
            raise UsageError(
                f"{len(pending)} manifest(s) are not signed with this key: {preview(name for name, _ in pending)}",
                hint="signing them vouches for their content: check that nobody else could write "
                f"{registry.root}, then rerun with --yes",
            )
        for _, folder in pending:
            registry.adopt(folder)
        adopted = [name for name, _ in pending]
        if adopted:
            registry.record("manifests_adopted", manifests=adopted, key_id=registry.keys.get().key_id)
    return AdoptResult(adopted=adopted)
