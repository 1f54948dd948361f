"""The registry's identity: ``registry.json``, a signed random id created with the registry.

One signing key usually signs every registry of its owner. Without an id, a version signed for
registry B and copied over a version of registry A would verify in A. So every manifest (model
versions and datasets) and the current pointer carry the id of the registry they were written for,
inside what is signed, and a document bound to another registry (or to none, once this one has an
id) is refused before any of its files is opened.

Registries written before ids existed get theirs from the first command that writes to them, with
the lock held: the manifests that verify with the key are bound to it in the same step (their names
are listed in the signed ``registry.json``, so that a run killed halfway is finished by the next one,
and nothing added later can ride along), and the current pointer is signed if the event log agrees
with it. A missing ``registry.json`` in a registry whose manifests name an id is never recreated.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from churnctl.errors import ArtifactError, preview
from churnctl.registry.files import read_json
from churnctl.registry.signing import KeySource
from churnctl.runtime.files import write_json_atomic


class Registry(Protocol):
    """What the identity needs of :class:`churnctl.registry.store.Registry`."""

    identity_path: Path
    models_dir: Path
    datasets_dir: Path
    keys: KeySource

    def versions(self) -> list[str]: ...
    def dataset_ids(self) -> list[str]: ...
    def forget_identity(self) -> None: ...
    def sign_legacy_pointer(self, registry_id: str) -> None: ...
    def record(self, event: str, **fields: Any) -> dict[str, Any]: ...


log = logging.getLogger(__name__)

FILE = "registry.json"
FORMAT = 1
FIELD = "registry_id"
_ID = re.compile(r"[0-9a-f]{32}")


def read(registry: Registry) -> str | None:
    """The verified id of ``registry``, or None when it has none yet (new, or written before ids)."""
    path = registry.identity_path
    if not path.exists() and not path.is_symlink():
        return None
    document = read_json(path)
    registry.keys.get().verify(document, f"the registry identity {path}")
    value = document.get(FIELD)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ArtifactError(f"{path} names {value!r}, which is not a registry id", hint=_RESTORE)
    return value


_RESTORE = "restore registry.json from a backup of this artifacts directory"


def check_bound(document: dict[str, Any], mine: str | None, what: str, root: Path) -> None:
    """Refuse ``document`` (a signed manifest or pointer) unless it belongs to this registry."""
    bound = document.get(FIELD)
    if bound is None:
        if mine is not None:
            raise ArtifactError(
                f"{what} is not bound to this registry ({mine}): it was signed before registries had ids "
                "and was not here when this one got its id, so it was copied in from elsewhere",
                hint="it will not be used; if you know where it came from, 'churnctl models adopt NAME --yes' binds it",
            )
        return
    if mine is None:
        raise ArtifactError(
            f"{what} belongs to registry {bound!r}, but {root / FILE}, which names this registry, is missing",
            hint=_RESTORE,
        )
    if bound != mine:
        raise ArtifactError(
            f"{what} belongs to another registry ({bound!r}), not to this one ({mine}): it was copied here "
            "from another artifacts directory",
            hint="it will not be used; restore this registry's own copy from a backup, or retrain",
        )


def ensure(registry: Registry) -> str:
    """This registry's id, created (and what the key signed before bound to it) when it has none.
    Call with the lock held."""
    existing = read(registry)
    if existing is not None:
        _finish_binding(registry, existing)
        return existing
    entries = _entries(registry)
    foreign = sorted({str(m[FIELD]) for _, _, m in entries if m is not None and FIELD in m})
    if foreign:
        raise ArtifactError(
            f"{registry.identity_path} is missing, but the manifests here belong to registry {preview(foreign)}",
            hint=_RESTORE + "; churnctl does not give a registry whose versions name an id a new one",
        )
    key = registry.keys.get(create=True)
    legacy = [name for name, _, manifest in entries if manifest is not None and _verifies(registry, manifest)]
    new_id = secrets.token_hex(16)
    created = datetime.now(UTC).isoformat(timespec="microseconds")
    document = {"format": FORMAT, FIELD: new_id, "created": created, "bound": legacy}
    write_json_atomic(registry.identity_path, key.sign(document))
    registry.forget_identity()
    _finish_binding(registry, new_id)
    if legacy:
        registry.record("registry_bound", registry_id=new_id, manifests=legacy)
        log.info("bound %d signed manifest(s) to this registry's new id %s", len(legacy), new_id)
    return new_id


def _entries(registry: Registry) -> list[tuple[str, Path, dict[str, Any] | None]]:
    """(id, manifest path, manifest read without checking or None if unreadable) of every version and dataset."""
    found: list[tuple[str, Path, dict[str, Any] | None]] = []
    folders = [(v, registry.models_dir / v) for v in registry.versions()]
    folders += [(d, registry.datasets_dir / d) for d in registry.dataset_ids()]
    for name, folder in folders:
        manifest: dict[str, Any] | None = None
        with contextlib.suppress(ArtifactError):
            manifest = read_json(folder / "manifest.json")
        found.append((name, folder / "manifest.json", manifest))
    return found


def _verifies(registry: Registry, document: dict[str, Any]) -> bool:
    try:
        registry.keys.get().verify(document, "a manifest")
    except ArtifactError:
        return False
    return True


def _finish_binding(registry: Registry, registry_id: str) -> None:
    """Bind the manifests that ``registry.json`` lists and that are not bound yet (a run killed while
    binding them), and sign a pointer the event log agrees with."""
    document = read_json(registry.identity_path)
    listed = document.get("bound")
    names = {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    key = registry.keys.get()
    if names:
        for name, path, manifest in _entries(registry):
            if name in names and manifest is not None and FIELD not in manifest and _verifies(registry, manifest):
                manifest[FIELD] = registry_id
                write_json_atomic(path, key.sign(manifest))
        done = {k: v for k, v in document.items() if k != "signature"}
        done["bound"], done["bound_when_created"] = [], sorted(names)  # finished: later writers skip the loop
        write_json_atomic(registry.identity_path, key.sign(done))
    registry.sign_legacy_pointer(registry_id)
