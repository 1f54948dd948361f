"""Layout of the artifacts directory and every operation on it.

::

    <artifacts>/
      registry.json                this registry's id, signed (see churnctl.registry.identity)
      events.jsonl                 append-only log of every registry change
      current.json                 {"current": "v0003", "history": ["v0001", "v0003"], "move": ..., signed}
      .lock                        the writers' lock (see churnctl.registry.lock)
      .staging/                    versions being written; moved into place when complete
      datasets/<dataset_id>/       manifest.json, schema.json, train.parquet, test.parquet
      models/<vNNNN>/              manifest.json, model.joblib, model.npz, reference.parquet

Versions are immutable. A dataset or model version is built completely in ``.staging`` and then
renamed into ``datasets/`` or ``models/`` in one atomic step, its manifest (with the SHA-256 of
every file) written last, so a half-written version is never listed or loaded. The current pointer
moves last, by atomic replacement of ``current.json``. Leftovers of a killed run in ``.staging`` are
removed by the next run that takes the lock.

Trust: every manifest and the current pointer are signed (see :mod:`churnctl.registry.signing`) and
bound to this registry's id (:mod:`churnctl.registry.identity`), and checked before any file of
their version is opened; a model's dataset must be one of this registry's; version and dataset ids
are checked against their canonical form (:mod:`churnctl.registry.ids`) wherever they come from, so
no id can address a path outside ``models/`` or ``datasets/``; model files that other accounts could
change are never loaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnctl.errors import ArtifactError, UsageError, os_hint, os_reason
from churnctl.registry import identity, ids
from churnctl.registry.datasets import DatasetStore
from churnctl.registry.events import EventScan, append_event, read_events, scan_events
from churnctl.registry.files import Staged, read_json, read_regular, refuse_writable_by_others
from churnctl.registry.lock import RegistryLock
from churnctl.registry.pointer import CurrentPointer
from churnctl.registry.repair import repair_log
from churnctl.registry.signing import ENV_KEY, KeySource
from churnctl.runtime.files import dir_mode, fsync_dir, make_dirs, write_json_atomic

log = logging.getLogger(__name__)

MODEL_FORMAT = 1
DATASET_FORMAT = 1
VERSION_PREFIX = ids.VERSION_PREFIX


def now() -> str:
    """The time stamp of manifests and results: UTC, microseconds (datasets are ordered by it: the
    latest is what ``train`` uses by default, so two made in the same second must not tie)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Registry(CurrentPointer, DatasetStore):
    def __init__(self, root: str | os.PathLike, keys: KeySource | None = None):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ArtifactError(
                f"the artifacts directory {self.root} is not a directory",
                hint="point --artifacts (or $CHURNCTL_ARTIFACTS) at a directory; churnctl creates it if missing",
            )
        self.keys = keys if keys is not None else KeySource(artifacts=self.root)
        self.datasets_dir = self.root / "datasets"
        self.models_dir = self.root / "models"
        self.staging_dir = self.root / ".staging"
        self.events_path = self.root / "events.jsonl"
        self.current_path = self.root / "current.json"
        self.lock_path = self.root / ".lock"
        self.identity_path = self.root / identity.FILE
        self._identity: str | None = None

    def require_exists(self) -> None:
        """For readers: a missing artifacts directory is named as such (a typo in --artifacts), not taken
        for an empty registry."""
        if not self.root.exists():
            raise ArtifactError(
                f"the artifacts directory {self.root} does not exist",
                hint="check --artifacts (or $CHURNCTL_ARTIFACTS); 'churnctl ingest FILE' creates it",
            )

    # -- locking and staging -----------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait: float = 0.0) -> Iterator[RegistryLock]:
        """The writers' lock; entering it also clears what a killed writer left in staging.

        Every writer signs or checks signatures, so the key is found (or created) first: a missing
        key fails the run before it changes anything. An operating-system error while it is held
        (disk full, read-only file system, no permission) is an artifact problem (exit 4); what was
        stored before stays as it was, as every change is published by one rename.
        """
        with self.faults(), self._lock(wait) as held:
            try:
                yield held
            except BaseException:
                self._clear_staging()  # what this run staged and did not publish: nobody else writes
                raise

    @contextlib.contextmanager
    def faults(self) -> Iterator[None]:
        """Operating-system errors while the registry is written, as artifact problems with a hint."""
        try:
            yield
        except OSError as exc:
            raise ArtifactError(
                f"cannot update the artifacts directory {self.root}: {os_reason(exc)}",
                hint=os_hint(exc, "check that the artifacts directory is a directory you can write"),
            ) from None

    def _lock(self, wait: float) -> RegistryLock:
        if not self.keys.exists():
            foreign = self.signing_key_ids()
            if foreign:
                raise UsageError(
                    f"no signing key here ({self.keys.describe()}), and {self.root} is signed with key "
                    f"{', '.join(sorted(foreign))}: a new key would sign versions nobody else can verify",
                    hint=f"set {ENV_KEY} or [security] key_file to the key that signed this registry",
                )
        self.keys.get(create=True)
        make_dirs(self.root)
        return RegistryLock(self.lock_path, wait=wait, on_acquire=self._recover)

    def _recover(self) -> None:
        """What a killed writer left: staged files, an unfinished binding to the registry's id, and
        changes missing from the event log. A registry without an id gets one here."""
        self._clear_staging()
        identity.ensure(self)
        repair_log(self)

    def identity(self) -> str | None:
        """This registry's id (its signature checked), or None before its first writer gave it one."""
        if self._identity is None:
            self._identity = identity.read(self)
        return self._identity

    def forget_identity(self) -> None:
        self._identity = None

    def _clear_staging(self) -> None:
        """Remove what a killed writer left: staged versions (a link planted there is removed, not
        followed) and temporary copies of current.json (the lock is held: no writer is at work)."""
        for stray in self.root.glob(".current.json.*.tmp"):
            stray.unlink(missing_ok=True)
        log_path = self.events_path
        if log_path.is_symlink() or (log_path.exists() and not log_path.is_file()):
            raise ArtifactError(  # checked before anything changes: a change must be logged
                f"the event log {log_path} is not a regular file",
                hint=f"move it aside (mv {log_path} {log_path}.bad); churnctl starts a new log",
            )
        if self.staging_dir.is_symlink() or (self.staging_dir.exists() and not self.staging_dir.is_dir()):
            self.staging_dir.unlink()
        else:
            shutil.rmtree(self.staging_dir, ignore_errors=True)

    def stage(self) -> Staged:
        if self.staging_dir.is_symlink():
            self._clear_staging()
        make_dirs(self.staging_dir)
        path = self.staging_dir / uuid.uuid4().hex
        path.mkdir(mode=dir_mode())
        return Staged(path)

    def _publish(self, staged: Staged, final: Path, manifest: dict[str, Any]) -> dict[str, Any]:
        manifest["files"] = dict(sorted(staged.files.items()))
        registry_id = self.identity()
        if registry_id is None:  # a writer takes the lock, which gives the registry its id
            raise ArtifactError(f"{self.root} has no registry id yet: publish with the lock held")
        manifest[identity.FIELD] = registry_id
        signed = self.keys.get(create=True).sign(manifest)
        write_json_atomic(staged.path / "manifest.json", signed)
        make_dirs(final.parent)
        os.rename(staged.path, final)
        fsync_dir(final.parent)
        return signed

    def signing_key_ids(self) -> set[str]:
        """Key ids that sign the manifests of this registry (read without verifying)."""
        found = set()
        folders = [self.models_dir / v for v in self.versions()] + [self.datasets_dir / d for d in self.dataset_ids()]
        for folder in folders:
            with contextlib.suppress(ArtifactError):
                signature = read_json(folder / "manifest.json").get("signature")
                if isinstance(signature, dict) and isinstance(signature.get("key_id"), str):
                    found.add(signature["key_id"])
        return found

    def _read_manifest(self, folder: Path, what: str, id_key: str, expected_id: str) -> dict[str, Any]:
        """A manifest whose signature, id and file names are checked; nothing else of the version is
        opened before this returns."""
        manifest = read_json(folder / "manifest.json")
        key = self.keys.get()
        if "signature" not in manifest and key.key_id in self.signing_key_ids():
            raise ArtifactError(
                f"the manifest of {what} is not signed, although the others here are: it was added or "
                "altered outside churnctl",
                hint="do not sign it unless you know where it came from; 'churnctl models adopt NAME --yes' "
                "signs one version you have checked",
            )
        key.verify(manifest, f"the manifest of {what}")
        identity.check_bound(manifest, self.identity(), f"the manifest of {what}", self.root)
        self.check_manifest(folder, manifest, what, id_key, expected_id)
        return manifest

    @staticmethod
    def check_manifest(folder: Path, manifest: dict[str, Any], what: str, id_key: str, expected_id: str) -> None:
        if manifest.get(id_key) != expected_id:
            raise ArtifactError(
                f"the manifest in {folder} describes {manifest.get(id_key)!r}, not {expected_id}",
                hint="a version folder was renamed or copied; restore it from a backup",
            )
        files = manifest.get("files")
        if not isinstance(files, dict) or any(
            not isinstance(n, str) or n != Path(n).name or n in ("", ".", "..") for n in files
        ):
            raise ArtifactError(
                f"the manifest of {what} lists files that are not plain names in its folder",
                hint="restore it from a backup or retrain",
            )

    def _entry(self, parent: Path, name: str, what: str) -> Path:
        """``parent/name`` as a real folder inside ``parent`` (no symbolic link, no way out)."""
        folder = parent / name
        if folder.is_symlink():
            raise ArtifactError(
                f"{what} folder {folder} is a symbolic link; churnctl only loads folders it wrote",
                hint="replace the link with the version's own folder, or remove it",
            )
        if folder.resolve().parent != parent.resolve():
            raise ArtifactError(f"{what} folder {folder} lies outside {parent}")
        return folder

    # -- model versions ----------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Complete model versions, oldest first."""
        if not self.models_dir.is_dir():
            return []
        return sorted(
            (
                p.name
                for p in self.models_dir.iterdir()
                if ids.is_version(p.name) and not p.is_symlink() and (p / "manifest.json").exists()
            ),
            key=lambda v: int(v[1:]),
        )

    def next_version(self) -> str:
        """One more than any version ever written (folders and the event log): a pruned number is never
        reused, so an old copy of a version folder can never pass for a new one."""
        names: list[object] = [p.name for p in self.models_dir.iterdir()] if self.models_dir.is_dir() else []
        names += [e.get("version") for e in self.events() if e.get("event") == "model_trained"]
        return ids.format_version(max((int(n[1:]) for n in names if ids.is_version(n)), default=0) + 1)

    def model_dir(self, version: str) -> Path:
        ids.stored_version(version, "the request")
        folder = self.models_dir / version
        if not (folder / "manifest.json").exists():
            known = self.versions()
            raise ArtifactError(
                f"unknown model version {version!r} in {self.root}",
                hint=f"known versions: {', '.join(known[-8:])}" if known else "run 'churnctl train' first",
            )
        return self._entry(self.models_dir, version, "model version")

    def model_manifest(self, version: str) -> dict:
        manifest = self._read_manifest(self.model_dir(version), f"model {version}", "version", version)
        self.check_model_fields(version, manifest)
        if not self.has_dataset(manifest["dataset_id"]):
            raise ArtifactError(
                f"model {version} was trained on dataset {manifest['dataset_id']}, which is not in "
                f"{self.datasets_dir}: the version was copied here from another artifacts directory",
                hint="it will not be used; restore this registry's own copy from a backup, or retrain",
            )
        return manifest

    @staticmethod
    def check_model_fields(version: str, manifest: dict) -> None:
        """What a model manifest must hold beyond its id and files: this churnctl's format and a
        canonical dataset id (checked on every read, and before ``models adopt`` signs one)."""
        if manifest.get("format") != MODEL_FORMAT:
            raise ArtifactError(
                f"model {version} has format {manifest.get('format')!r}; this churnctl reads format {MODEL_FORMAT}",
                hint="retrain the model with this version of churnctl",
            )
        ids.stored_dataset_id(manifest.get("dataset_id"), f"the manifest of model {version}")

    def model_bytes(self, version: str, name: str, manifest: dict | None = None) -> bytes:
        """The bytes of one file of a version, after checking the signed manifest, that no other account
        can change the folder or the file (a model file is code: unpickling runs it) and the SHA-256 of
        the very bytes returned: parse these, never the file again. ``manifest``: the version's manifest
        as :meth:`model_manifest` returned it, when the caller holds it already (not read again)."""
        manifest = manifest if manifest is not None else self.model_manifest(version)
        folder = self.model_dir(version)
        if name not in manifest["files"]:
            raise ArtifactError(f"model {version} has no {name} in its manifest")
        data, digest, info = read_regular(folder / name)
        refuse_writable_by_others([self.models_dir, folder], [(folder / name, info.st_mode)])
        if digest != manifest["files"][name]:
            raise ArtifactError(
                f"artifact {folder / name} was modified after it was written (SHA-256 mismatch)",
                hint="it will not be loaded; restore it from a backup or retrain",
            )
        assert data is not None
        return data

    def verify(self, version: str) -> None:
        """Signature, binding, file modes and every file's SHA-256 of ``version``."""
        manifest = self.model_manifest(version)
        for name in manifest["files"]:
            self.model_bytes(version, name, manifest)

    def publish_model(self, staged: Staged, version: str, manifest: dict[str, Any]) -> dict[str, Any]:
        ids.stored_version(version, "the new model")
        manifest["format"] = MODEL_FORMAT
        return self._publish(staged, self.models_dir / version, manifest)

    # -- events ------------------------------------------------------------------------------

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        with self.faults():
            make_dirs(self.root)
            return append_event(self.events_path, event, **fields)

    def record_if_writable(self, event: str, **fields: Any) -> str | None:
        """:meth:`record` for readers: on a registry they cannot write (a read-only snapshot, a full
        disk) the answer stands without its event. Returns what went wrong, if anything."""
        try:
            self.record(event, **fields)
        except ArtifactError as exc:
            return f"the {event} event was not added to {self.events_path}: {exc.message}"
        return None

    def events(self) -> list[dict]:
        return read_events(self.events_path)

    def readable_events(self) -> list[dict]:
        """The events, for readers that show the log: lines that are not events (damaged or edited) are
        skipped with a warning naming them."""
        scan: EventScan = scan_events(self.events_path)
        warning = scan.warning(self.events_path)
        if warning:
            log.warning(warning)
        return scan.events
