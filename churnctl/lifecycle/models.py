"""models: list, show, promote, roll back, history, verify and adopt model versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from churnctl.config import Settings
from churnctl.contract.schema import canonical_label
from churnctl.data.labelled import read_labelled, test_split
from churnctl.errors import UsageError, preview
from churnctl.lifecycle.mirror import mirror
from churnctl.lifecycle.results import Result, warn
from churnctl.model.compare import compare as compare_scores
from churnctl.model.scorer import Scorer
from churnctl.registry import Registry, audit, ids


@dataclass
class ModelSummary(Result):
    version: str
    created: str
    dataset_id: str
    estimator: str
    cv_roc_auc: float | None  # on the training split of its dataset (cross-validated)
    test_roc_auc: float | None  # on the test split of its dataset: versions of different datasets
    test_rows: int | None  # were measured on different rows (see `models compare`)
    threshold: float
    status: str  # current | previous_champion | rolled_back | rejected | not_promoted


def rejected_versions(registry: Registry) -> set[str]:
    """Challengers that a retrain trained and did not promote."""
    return {
        str(e.get("challenger"))
        for e in registry.events()
        if e.get("event") == "retrain" and e.get("outcome") == "rejected"
    }


def list_models(registry: Registry) -> list[ModelSummary]:
    registry.require_exists()
    current = registry.current()
    history = registry.promotion_history()
    rejected = rejected_versions(registry)
    rolled_back = {str(e.get("previous")) for e in registry.events() if e.get("event") == "model_rolled_back"} - {
        current,
        *history,
    }
    summaries = []
    for version in registry.versions():
        manifest = registry.model_manifest(version)
        if version == current:
            status = "current"
        elif version in history:
            status = "previous_champion"
        elif version in rolled_back:
            status = "rolled_back"  # was current; a rollback left it
        elif version in rejected:
            status = "rejected"
        else:
            status = "not_promoted"
        test = manifest.get("test_metrics", {})
        summaries.append(
            ModelSummary(
                version=version,
                created=manifest["created"],
                dataset_id=manifest["dataset_id"],
                estimator=manifest["estimator"],
                cv_roc_auc=manifest.get("cv_roc_auc"),
                test_roc_auc=test.get("roc_auc"),
                test_rows=test.get("n_rows"),
                threshold=manifest["threshold"],
                status=status,
            )
        )
    return summaries


def show_model(registry: Registry, version: str | None = None) -> dict[str, Any]:
    """A version's signed manifest (default: current), with ``current`` telling whether it is."""
    version = ids.version_argument(version) if version is not None else registry.require_current()
    manifest = dict(registry.model_manifest(version))
    manifest["current"] = registry.current() == version
    return manifest


@dataclass
class PointerResult(Result):
    action: str
    current: str
    previous: str | None


def promote(
    registry: Registry,
    version: str,
    *,
    wait: float = 0.0,
    reason: str = "manual promote",
    force: bool = False,
    settings: Settings | None = None,
) -> PointerResult:
    """Make ``version`` current; a challenger that a retrain rejected needs ``force``. With ``settings``,
    the MLflow mirror (if configured) follows."""
    version = ids.version_argument(version)
    with registry.lock(wait):
        registry.verify(version)
        if version in rejected_versions(registry) and version != registry.current() and not force:
            raise UsageError(
                f"{version} was rejected by a retrain (see 'churnctl models history'): it did not beat the "
                "champion on the new data",
                hint=f"compare first ('churnctl models compare {registry.current() or 'CURRENT'} {version}'), "
                "then promote with --force if you still want it",
            )
        previous = registry.set_current(version, reason=reason, repair=True)
    if settings is not None:
        mirror(registry, settings)
    return PointerResult(action="promote", current=version, previous=previous)


def rollback(registry: Registry, *, wait: float = 0.0, settings: Settings | None = None) -> PointerResult:
    with registry.lock(wait):
        registry.check_pointer_agrees()
        leaving, target = registry.rollback()
    if settings is not None:
        mirror(registry, settings)
    return PointerResult(action="rollback", current=target, previous=leaving)


HISTORY_EVENTS = ("model_trained", "model_promoted", "model_rolled_back", "retrain", "models_pruned")


def history(registry: Registry) -> list[dict[str, Any]]:
    """Registry events about model versions, oldest first, flattened for display."""
    registry.require_exists()
    rows = []
    for event in registry.readable_events():
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
    """Check every version's and dataset's signature, binding and files, and the current pointer;
    {artifact: problem or None}."""
    registry.require_exists()
    return audit.verify_all(registry)


@dataclass
class AdoptResult(Result):
    adopted: list[str]
    changes: dict[str, dict[str, list]]  # per manifest signed: {field: [as logged, as signed]}


def adopt(
    registry: Registry,
    names: list[str] | None = None,
    *,
    confirm: bool,
    accept_changes: list[str] | None = None,
    wait: float = 0.0,
) -> AdoptResult:
    """Sign, with this key and bound to this registry, manifests it did not sign or bind.

    Without ``names``: every such manifest, and only in a directory where none is signed with this key
    yet (one written before signing existed, or signed with a key since replaced). In a directory
    this key already signs, an unsigned version is a stranger: it is signed only when named.
    Signing says "I trust what is stored here now": it needs ``confirm``. A manifest whose fields
    differ from what the event log recorded (a threshold edited by hand) is signed only when it is
    also named in ``accept_changes``, after the differences were shown.
    """
    wanted = [_artifact_name(n) for n in names or []]
    accepted = {_artifact_name(n) for n in accept_changes or []}
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
        events = registry.events()
        changes = {}
        for name in chosen:
            differences = audit.logged_differences(audit.adoption_preview(registry, name), events)
            if differences:
                changes[name] = {field: list(pair) for field, pair in differences.items()}
        unexplained = [n for n in changes if n not in accepted]
        if unexplained:
            listed = "\n  ".join(
                f"{name}: {audit.describe_differences({f: (a, b) for f, (a, b) in changes[name].items()})}"
                for name in unexplained
            )
            raise UsageError(
                f"{len(unexplained)} manifest(s) differ from what the event log recorded when they were made:\n  "
                f"{listed}",
                hint="signing them would make those values trusted; if you made these changes yourself, confirm "
                "each by name: " + " ".join(f"--accept-changes {n}" for n in unexplained),
            )
        if chosen and not confirm:
            raise UsageError(
                f"{len(chosen)} manifest(s) are not signed with this key for this registry: {preview(chosen)}",
                hint="signing them vouches for their content: check that nobody else could write "
                f"{registry.root}, then rerun with --yes",
            )
        for name in chosen:
            audit.adopt(registry, name)
        if chosen:
            registry.record(
                "manifests_adopted",
                manifests=chosen,
                key_id=registry.keys.get().key_id,
                fields={
                    name: audit.recorded_fields(audit.adoption_preview(registry, name))
                    for name in chosen
                    if name in changes
                },
            )
    return AdoptResult(adopted=chosen, changes=changes)


def _artifact_name(text: str) -> str:
    return ids.version_argument(text) if not text.strip().lower().startswith("ds-") else ids.dataset_argument(text)


@dataclass
class Comparison(Result):
    """Two versions scored on the same labelled rows."""

    data: str
    n_rows: int
    a: str
    b: str
    metrics: dict[str, dict]  # per version
    roc_auc_difference: float | None  # b - a
    bootstrap: int
    p_value: float | None  # one-sided paired bootstrap: b's ROC-AUC is not higher than a's
    warnings: list[str]


def compare(
    registry: Registry,
    settings: Settings,
    a: str,
    b: str,
    *,
    data: str | None = None,
    dataset: str | None = None,
    bootstrap: int | None = None,
) -> Comparison:
    """Score versions ``a`` and ``b`` on the same rows (default: the latest ingested dataset's test split;
    ``dataset``: another dataset's, such as a retrain's holdout; ``data``: labelled rows of a file) and
    test B against A with the paired bootstrap that retrain uses."""
    resamples = settings.retrain.bootstrap if bootstrap is None else bootstrap
    if resamples < 0:  # before any model is loaded or row scored
        raise UsageError(f"--bootstrap must be 0 or more, found {resamples}")
    first, second = Scorer.load(registry, settings, a), Scorer.load(registry, settings, b)
    for attribute in ("target", "positive_label"):
        if getattr(first.schema, attribute) != getattr(second.schema, attribute):
            raise UsageError(
                f"{first.version} and {second.version} predict different targets "
                f"({first.schema.target}={first.schema.positive_label!r} vs "
                f"{second.schema.target}={second.schema.positive_label!r}): their scores cannot be compared"
            )
    dataset = ids.dataset_argument(dataset, "--dataset") if dataset is not None else registry.latest_dataset()
    if data is None:
        stored = registry.dataset_manifest(dataset)
        if (stored.get("target"), canonical_label(str(stored.get("positive_label")))) != (
            first.schema.target,
            canonical_label(first.schema.positive_label),
        ):
            raise UsageError(
                f"the latest dataset {dataset} has target {stored.get('target')}={stored.get('positive_label')!r}, "
                f"the models predict {first.schema.target}={first.schema.positive_label!r}",
                hint="compare them on labelled rows of their own target: --data FILE",
            )
    rows = test_split(registry, dataset, first.schema) if data is None else read_labelled(data, first.schema)
    paired = compare_scores(
        first, second, rows.frame, rows.y, rows.described, bootstrap=resamples, seed=settings.retrain.seed
    )
    warnings = rows.warnings + paired.warnings
    if paired.roc_auc_difference is None:
        warnings.append("the rows hold only one class: ROC-AUC is undefined and nothing is tested")
    return Comparison(
        data=rows.described,
        n_rows=len(rows.y),
        a=first.version,
        b=second.version,
        metrics=paired.metrics,
        roc_auc_difference=paired.roc_auc_difference,
        bootstrap=resamples,
        p_value=paired.p_value,
        warnings=warn(warnings),
    )
