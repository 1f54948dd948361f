"""Layout of the artifacts directory and every operation on it.

::

    <artifacts>/
      events.jsonl                 append-only log of every registry change
      current.json                 {"current": "v0003", "history": ["v0001", "v0003"]}
      .lock                        the writers' lock (see churnctl.registry.lock)
      .staging/                    versions being written; moved into place when complete
      datasets/<dataset_id>/       manifest.json, schema.json, train.parquet, test.parquet
      models/<vNNNN>/              manifest.json, model.joblib, reference.parquet

Versions are immutable. A dataset or model version is built completely in ``.staging`` and then
renamed into ``datasets/`` or ``models/`` in one atomic step, its manifest (with the SHA-256 of
every file) written last, so a half-written version is never listed or loaded. The current pointer
moves last, by atomic replacement of ``current.json``. Leftovers of a killed run in ``.staging`` are
removed by the next run that takes the lock.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from churnctl.errors import ArtifactError
from churnctl.registry.events import append_event, read_events
from churnctl.registry.files import fsync_dir, read_json, sha256_file, write_json_atomic
from churnctl.registry.lock import RegistryLock

MODEL_FORMAT = 1
DATASET_FORMAT = 1
VERSION_PREFIX = "v"


class Registry:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.datasets_dir = self.root / "datasets"
        self.models_dir = self.root / "models"
        self.staging_dir = self.root / ".staging"
        self.events_path = self.root / "events.jsonl"
        self.current_path = self.root / "current.json"
        self.lock_path = self.root / ".lock"

    # -- locking and staging -----------------------------------------------------------------

    def lock(self, wait: float = 0.0) -> RegistryLock:
        """The writers' lock; entering it also clears what a killed writer left in staging."""
        return RegistryLock(self.lock_path, wait=wait,
                            on_acquire=lambda: shutil.rmtree(self.staging_dir, ignore_errors=True))

    def stage(self) -> Path:
        path = self.staging_dir / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def _publish(self, staged: Path, final: Path, manifest: dict) -> None:
        manifest["files"] = {p.name: sha256_file(p) for p in sorted(staged.iterdir()) if p.is_file()}
        write_json_atomic(staged / "manifest.json", manifest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, final)
        fsync_dir(final.parent)

    def _verify_files(self, folder: Path, manifest: dict, names=None) -> None:
        for name, expected in manifest.get("files", {}).items():
            if names is not None and name not in names:
                continue
            path = folder / name
            if not path.exists():
                raise ArtifactError(f"artifact {path} is missing", hint="the version is damaged; "
                                    "retrain or restore the artifacts directory from a backup")
            if sha256_file(path) != expected:
                raise ArtifactError(f"artifact {path} was modified after it was written (SHA-256 mismatch)",
                                    hint="it will not be loaded; restore it from a backup or retrain")

    # -- datasets ----------------------------------------------------------------------------

    def dataset_ids(self) -> list[str]:
        """Dataset ids, oldest first."""
        found = []
        if self.datasets_dir.is_dir():
            for folder in self.datasets_dir.iterdir():
                manifest = folder / "manifest.json"
                if folder.is_dir() and manifest.exists():
                    try:
                        created = read_json(manifest).get("created", "")
                    except ArtifactError:
                        created = ""  # listed, so that loading or verifying it names the damage
                    found.append((str(created), folder.name))
        return [name for _, name in sorted(found)]

    def has_dataset(self, dataset_id: str) -> bool:
        return (self.datasets_dir / dataset_id / "manifest.json").exists()

    def dataset_dir(self, dataset_id: str) -> Path:
        if not self.has_dataset(dataset_id):
            known = self.dataset_ids()
            raise ArtifactError(f"unknown dataset {dataset_id!r} in {self.root}",
                                hint=f"known datasets: {', '.join(known[-5:])}" if known
                                else "run 'churnctl ingest FILE' first")
        return self.datasets_dir / dataset_id

    def dataset_manifest(self, dataset_id: str) -> dict:
        return read_json(self.dataset_dir(dataset_id) / "manifest.json")

    def latest_dataset(self) -> str:
        ids = self.dataset_ids()
        if not ids:
            raise ArtifactError(f"no dataset in {self.root}", hint="run 'churnctl ingest FILE' first")
        return ids[-1]

    def dataset_file(self, dataset_id: str, name: str) -> Path:
        folder = self.dataset_dir(dataset_id)
        self._verify_files(folder, read_json(folder / "manifest.json"), names={name})
        return folder / name

    def publish_dataset(self, staged: Path, dataset_id: str, manifest: dict) -> None:
        self._publish(staged, self.datasets_dir / dataset_id, manifest)

    # -- model versions ----------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Complete model versions, oldest first."""
        if not self.models_dir.is_dir():
            return []
        return sorted(p.name for p in self.models_dir.iterdir()
                      if p.name.startswith(VERSION_PREFIX) and (p / "manifest.json").exists())

    def next_version(self) -> str:
        numbers = [int(p.name[1:]) for p in self.models_dir.glob(f"{VERSION_PREFIX}*")
                   if p.name[1:].isdigit()] if self.models_dir.is_dir() else []
        return f"{VERSION_PREFIX}{max(numbers, default=0) + 1:04d}"

    def model_dir(self, version: str) -> Path:
        folder = self.models_dir / version
        if not (folder / "manifest.json").exists():
            known = self.versions()
            raise ArtifactError(f"unknown model version {version!r} in {self.root}",
                                hint=f"known versions: {', '.join(known[-8:])}" if known
                                else "run 'churnctl train' first")
        return folder

    def model_manifest(self, version: str) -> dict:
        manifest = read_json(self.model_dir(version) / "manifest.json")
        if manifest.get("format") != MODEL_FORMAT:
            raise ArtifactError(f"model {version} has format {manifest.get('format')!r}; this churnctl reads "
                                f"format {MODEL_FORMAT}", hint="retrain the model with this version of churnctl")
        return manifest

    def model_file(self, version: str, name: str) -> Path:
        """Path of one file of a version, after checking its SHA-256 against the manifest."""
        folder = self.model_dir(version)
        manifest = self.model_manifest(version)
        if name not in manifest.get("files", {}):
            raise ArtifactError(f"model {version} has no {name} in its manifest")
        self._verify_files(folder, manifest, names={name})
        return folder / name

    def verify(self, version: str) -> None:
        self._verify_files(self.model_dir(version), self.model_manifest(version))

    def publish_model(self, staged: Path, version: str, manifest: dict) -> None:
        manifest["format"] = MODEL_FORMAT
        self._publish(staged, self.models_dir / version, manifest)

    # -- the current pointer -----------------------------------------------------------------

    def _pointer(self) -> dict:
        if not self.current_path.exists():
            return {"current": None, "history": []}
        pointer = read_json(self.current_path)
        if not isinstance(pointer.get("history", []), list):
            raise ArtifactError(f"{self.current_path} is damaged: 'history' is not a list",
                                hint="restore it, or rewrite it with 'churnctl models promote VERSION'")
        return pointer

    def current(self) -> str | None:
        return self._pointer().get("current")

    def require_current(self) -> str:
        version = self.current()
        if version is None:
            raise ArtifactError(f"no current model in {self.root}",
                                hint="run 'churnctl train' (the first model becomes current)")
        return version

    def promotion_history(self) -> list[str]:
        return list(self._pointer().get("history", []))

    def set_current(self, version: str) -> str | None:
        """Make ``version`` current; returns the previous current version."""
        self.model_dir(version)
        pointer = self._pointer()
        previous = pointer.get("current")
        history = [v for v in pointer.get("history", [])]
        if previous != version:
            history.append(version)
        write_json_atomic(self.current_path, {"current": version, "history": history})
        return previous

    def rollback(self) -> tuple[str, str]:
        """Return to the previous champion; returns (from_version, to_version)."""
        pointer = self._pointer()
        history = list(pointer.get("history", []))
        if len(history) < 2:
            raise ArtifactError("there is no previous current model to roll back to",
                                hint="'churnctl models history' shows what has been current")
        leaving, target = history[-1], history[-2]
        self.verify(target)  # never roll back onto a damaged or tampered version
        write_json_atomic(self.current_path, {"current": target, "history": history[:-1]})
        return leaving, target

    def prune(self, version: str) -> None:
        """Delete a model version: moved out of ``models/`` in one step, then removed."""
        folder = self.model_dir(version)
        trash = self.staging_dir / f"pruned-{version}-{uuid.uuid4().hex[:8]}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.rename(folder, trash)
        pointer = self._pointer()
        if version in pointer.get("history", []):
            pointer["history"] = [v for v in pointer["history"] if v != version]
            write_json_atomic(self.current_path, pointer)
        shutil.rmtree(trash, ignore_errors=True)

    def verify_all(self) -> dict[str, str | None]:
        """{name: problem or None} for every model version and dataset."""
        problems: dict[str, str | None] = {}
        for version in self.versions():
            try:
                self.verify(version)
                problems[f"model {version}"] = None
            except ArtifactError as exc:
                problems[f"model {version}"] = exc.message
        for dataset_id in self.dataset_ids():
            folder = self.datasets_dir / dataset_id
            try:
                self._verify_files(folder, read_json(folder / "manifest.json"))
                problems[f"dataset {dataset_id}"] = None
            except ArtifactError as exc:
                problems[f"dataset {dataset_id}"] = exc.message
        return problems

    # -- events ------------------------------------------------------------------------------

    def record(self, event: str, **fields) -> dict:
        self.root.mkdir(parents=True, exist_ok=True)
        return append_event(self.events_path, event, **fields)

    def events(self) -> list[dict]:
        return read_events(self.events_path)
