"""Dataset versions as part of :class:`churnctl.registry.store.Registry`: listing them, their signed
manifests and files, publishing one, and which one is "the latest"."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from churnctl.errors import ArtifactError
from churnctl.registry import ids
from churnctl.registry.files import Staged, read_json, verify_files


class DatasetStore:
    """The datasets' operations; the registry provides the paths and the manifest checks."""

    root: Path
    datasets_dir: Path

    if TYPE_CHECKING:

        def require_exists(self) -> None: ...

        def _read_manifest(self, folder: Path, what: str, id_key: str, expected_id: str) -> dict[str, Any]: ...

        def _entry(self, parent: Path, name: str, what: str) -> Path: ...

        def _publish(self, staged: Staged, final: Path, manifest: dict[str, Any]) -> dict[str, Any]: ...

    def dataset_ids(self) -> list[str]:
        """Dataset ids, oldest first."""
        found = []
        if self.datasets_dir.is_dir():
            for folder in self.datasets_dir.iterdir():
                manifest = folder / "manifest.json"
                if ids.is_dataset_id(folder.name) and folder.is_dir() and manifest.exists():
                    try:
                        created = read_json(manifest).get("created", "")
                    except ArtifactError:
                        created = ""  # listed, so that loading or verifying it names the damage
                    found.append((str(created), folder.name))
        return [name for _, name in sorted(found)]

    def has_dataset(self, dataset_id: str) -> bool:
        return ids.is_dataset_id(dataset_id) and (self.datasets_dir / dataset_id / "manifest.json").exists()

    def dataset_dir(self, dataset_id: str) -> Path:
        ids.stored_dataset_id(dataset_id, "the request")
        if not self.has_dataset(dataset_id):
            known = self.dataset_ids()
            raise ArtifactError(
                f"unknown dataset {dataset_id!r} in {self.root}",
                hint=f"known datasets: {', '.join(known[-5:])}" if known else "run 'churnctl ingest FILE' first",
            )
        return self._entry(self.datasets_dir, dataset_id, "dataset")

    def dataset_manifest(self, dataset_id: str) -> dict:
        return self._read_manifest(self.dataset_dir(dataset_id), f"dataset {dataset_id}", "dataset_id", dataset_id)

    def latest_dataset(self) -> str:
        """The latest dataset a user ingested: what ``train`` and ``models compare`` use by default. The
        datasets a retrain makes (the champion's rows and new ones) never are, rejected or promoted:
        the data a user works on changes only when they ingest."""
        self.require_exists()
        found = self.dataset_ids()
        if not found:
            raise ArtifactError(f"no dataset in {self.root}", hint="run 'churnctl ingest FILE' first")
        for dataset_id in reversed(found):
            with contextlib.suppress(ArtifactError):  # damage is named when the dataset is read
                if read_json(self.datasets_dir / dataset_id / "manifest.json").get("source") != "retrain":
                    return dataset_id
        return found[-1]

    def dataset_bytes(self, dataset_id: str, name: str) -> bytes:
        """The bytes of one file of a dataset, after checking the signed manifest and their SHA-256."""
        manifest = self.dataset_manifest(dataset_id)
        if name not in manifest["files"]:
            raise ArtifactError(f"dataset {dataset_id} has no {name} in its manifest")
        return verify_files(self.dataset_dir(dataset_id), manifest, names={name})[name]

    def publish_dataset(self, staged: Staged, dataset_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
        ids.stored_dataset_id(dataset_id, "the new dataset")
        return self._publish(staged, self.datasets_dir / dataset_id, manifest)
