"""Whole-registry checks, and the owner's explicit signing of manifests this key did not sign (or did
not bind to this registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churnctl.errors import ArtifactError
from churnctl.registry import identity, ids
from churnctl.registry.events import dataset_added_fields, model_trained_fields
from churnctl.registry.files import read_json, verify_files
from churnctl.registry.store import Registry
from churnctl.runtime.files import write_json_atomic

POINTER = "current pointer"


def verify_all(registry: Registry) -> dict[str, str | None]:
    """{name: problem or None} for every model version and dataset (signature, binding to this
    registry, file modes, checksums, agreement with what the event log recorded) and for the current
    pointer (signature, the version it names, agreement with the log)."""
    problems: dict[str, str | None] = {}
    events = registry.events()
    for version in registry.versions():
        problems[f"model {version}"] = _problem(lambda v=version: _check_model(registry, v, events))
    for dataset_id in registry.dataset_ids():
        problems[f"dataset {dataset_id}"] = _problem(lambda d=dataset_id: _check_dataset(registry, d, events))
    pointer = _problem(lambda: _check_pointer(registry, events))
    if pointer is not None or registry.current_path.exists():
        problems[POINTER] = pointer
    return problems


def _problem(check: Any) -> str | None:
    try:
        check()
    except ArtifactError as exc:
        return exc.message
    return None


def _check_model(registry: Registry, version: str, events: list[dict]) -> None:
    registry.verify(version)
    _raise_differences(f"model {version}", logged_differences(registry.model_manifest(version), events))


def _check_dataset(registry: Registry, dataset_id: str, events: list[dict]) -> None:
    manifest = registry.dataset_manifest(dataset_id)
    verify_files(registry.dataset_dir(dataset_id), manifest)
    _raise_differences(f"dataset {dataset_id}", logged_differences(manifest, events))


def _check_pointer(registry: Registry, events: list[dict]) -> None:
    problem = registry.pointer_disagreement(events)
    if problem is not None:
        raise ArtifactError(problem)


def _raise_differences(what: str, differences: dict[str, tuple[Any, Any]]) -> None:
    if differences:
        raise ArtifactError(f"{what} differs from what the event log recorded: {describe_differences(differences)}")


def describe_differences(differences: dict[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{name} logged {logged!r}, stored {stored!r}" for name, (logged, stored) in differences.items())


def logged_differences(manifest: dict[str, Any], events: list[dict]) -> dict[str, tuple[Any, Any]]:
    """{field: (as the event log recorded it, as the manifest holds it)} for the fields of the
    version's or dataset's last record in the log (``model_trained``/``dataset_added``, or an adoption
    that accepted changes) that the manifest no longer matches. Nothing logged: nothing to compare."""
    if "version" in manifest:
        name, kind, fields = manifest.get("version"), "model_trained", model_trained_fields(manifest)
        key = "version"
    else:
        name, kind, fields = manifest.get("dataset_id"), "dataset_added", dataset_added_fields(manifest)
        key = "dataset_id"
    logged: dict[str, Any] | None = None
    for event in events:
        adopted = event.get("fields") if event.get("event") == "manifests_adopted" else None
        if event.get("event") == kind and event.get(key) == name:
            logged = event
        elif isinstance(adopted, dict) and isinstance(adopted.get(name), dict):
            logged = adopted[name]
    if logged is None:
        return {}
    return {
        field: (logged[field], value)
        for field, value in fields.items()
        if field in logged and logged[field] is not None and logged[field] != value
    }


def recorded_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields the event log keeps of a manifest (what :func:`logged_differences` compares)."""
    return model_trained_fields(manifest) if "version" in manifest else dataset_added_fields(manifest)


def unsigned(registry: Registry) -> dict[str, Path]:
    """Versions and datasets whose manifest this key did not sign for this registry (unsigned, signed
    with another key, or not bound to this registry), by id (``v0003``, ``ds-…``)."""
    key = registry.keys.get()
    mine = registry.identity()
    entries = [(v, registry.models_dir / v) for v in registry.versions()]
    entries += [(d, registry.datasets_dir / d) for d in registry.dataset_ids()]
    found = {}
    for name, folder in entries:
        manifest = read_json(folder / "manifest.json")
        signature = manifest.get("signature")
        bound = manifest.get(identity.FIELD)
        if not isinstance(signature, dict) or signature.get("key_id") != key.key_id or bound != mine:
            found[name] = folder
    return found


def adoption_preview(registry: Registry, name: str) -> dict[str, Any]:
    """What adopting ``name`` would sign, checked as a signed manifest is (its id, format, file names,
    its dataset, every file's SHA-256); raises :class:`ArtifactError` for what loading would refuse."""
    if ids.is_version(name):
        folder, id_key = registry.model_dir(name), "version"
    else:
        folder, id_key = registry.dataset_dir(ids.stored_dataset_id(name, "the request")), "dataset_id"
    manifest = read_json(folder / "manifest.json")
    Registry.check_manifest(folder, manifest, name, id_key, name)
    if id_key == "version":
        Registry.check_model_fields(name, manifest)  # never sign what loading would refuse
        if not registry.has_dataset(manifest["dataset_id"]):
            raise ArtifactError(
                f"model {name} was trained on dataset {manifest['dataset_id']}, which is not in this registry",
                hint="it cannot be loaded here; restore this registry's own copy of the version, or retrain",
            )
    verify_files(folder, manifest)
    return manifest


def adopt(registry: Registry, name: str) -> None:
    """Sign the manifest of version or dataset ``name`` with this key, bound to this registry, after
    :func:`adoption_preview`'s checks. The caller holds the lock; only for an explicit request by the
    owner of the registry."""
    manifest = adoption_preview(registry, name)
    folder = registry.models_dir / name if ids.is_version(name) else registry.datasets_dir / name
    registry_id = registry.identity()
    if registry_id is not None:
        manifest[identity.FIELD] = registry_id
    write_json_atomic(folder / "manifest.json", registry.keys.get(create=True).sign(manifest))
