"""Whole-registry checks and the owner's explicit signing of manifests this key did not sign."""

from __future__ import annotations

from pathlib import Path

from churnctl.errors import ArtifactError
from churnctl.registry import ids
from churnctl.registry.files import read_json, verify_files, write_json_atomic
from churnctl.registry.store import Registry


def verify_all(registry: Registry) -> dict[str, str | None]:
    """{name: problem or None} for every model version and dataset: signature, then checksums."""
    problems: dict[str, str | None] = {}
    for version in registry.versions():
        try:
            registry.verify(version)
            problems[f"model {version}"] = None
        except ArtifactError as exc:
            problems[f"model {version}"] = exc.message
    for dataset_id in registry.dataset_ids():
        try:
            verify_files(registry.dataset_dir(dataset_id), registry.dataset_manifest(dataset_id))
            problems[f"dataset {dataset_id}"] = None
        except ArtifactError as exc:
            problems[f"dataset {dataset_id}"] = exc.message
    return problems


def unsigned(registry: Registry) -> dict[str, Path]:
    """Versions and datasets whose manifest this key did not sign (unsigned, or signed with another
    key), by id (``v0003``, ``ds-…``)."""
    key = registry.keys.get()
    entries = [(v, registry.models_dir / v) for v in registry.versions()]
    entries += [(d, registry.datasets_dir / d) for d in registry.dataset_ids()]
    found = {}
    for name, folder in entries:
        signature = read_json(folder / "manifest.json").get("signature")
        if not isinstance(signature, dict) or signature.get("key_id") != key.key_id:
            found[name] = folder
    return found


def adopt(registry: Registry, name: str) -> None:
    """Sign the manifest of version or dataset ``name`` with this key, after the checks a signed one
    passes (its id, format, file names, and every file's SHA-256). The caller holds the lock; only for
    an explicit request by the owner of the registry."""
    if ids.is_version(name):
        folder, id_key = registry.model_dir(name), "version"
    else:
        folder, id_key = registry.dataset_dir(ids.stored_dataset_id(name, "the request")), "dataset_id"
    manifest = read_json(folder / "manifest.json")
    Registry.check_manifest(folder, manifest, name, id_key, name)
    if id_key == "version":
        Registry.check_model_fields(name, manifest)  # never sign what loading would refuse
    verify_files(folder, manifest)
    write_json_atomic(folder / "manifest.json", registry.keys.get(create=True).sign(manifest))
