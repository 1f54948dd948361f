"""The current pointer (``current.json``: the current model version and the history of those that
were current) and the pruning of versions, as part of :class:`churnctl.registry.store.Registry`."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from churnctl.errors import ArtifactError
from churnctl.registry import ids
from churnctl.registry.files import make_dirs, read_json, write_json_atomic


class CurrentPointer:
    """The pointer's operations; the registry provides the paths and the version checks."""

    root: Path
    current_path: Path
    models_dir: Path
    staging_dir: Path

    if TYPE_CHECKING:

        def model_dir(self, version: str) -> Path: ...

        def verify(self, version: str) -> None: ...

    def _pointer(self) -> dict:
        if not self.current_path.exists():
            return {"current": None, "history": []}
        pointer = read_json(self.current_path)
        history = pointer.get("history", [])
        if not isinstance(history, list):
            raise ArtifactError(
                f"{self.current_path} is damaged: 'history' is not a list",
                hint="restore it, or rewrite it with 'churnctl models promote VERSION'",
            )
        where = str(self.current_path)
        current = pointer.get("current")
        return {
            "current": None if current is None else ids.stored_version(current, where),
            "history": [ids.stored_version(v, where) for v in history],
        }

    def current(self) -> str | None:
        return self._pointer()["current"]

    def require_current(self) -> str:
        version = self.current()
        if version is None:
            raise ArtifactError(
                f"no current model in {self.root}", hint="run 'churnctl train' (the first model becomes current)"
            )
        return version

    def promotion_history(self) -> list[str]:
        return list(self._pointer()["history"])

    def protected_versions(self) -> set[str]:
        """The current model and the previous champion: never pruned."""
        pointer = self._pointer()
        return {v for v in (pointer["current"], *pointer["history"][-2:]) if v is not None}

    def set_current(self, version: str, repair: bool = False) -> str | None:
        """Make ``version`` current; returns the previous current version.

        With ``repair``, a damaged pointer is replaced (keeping the valid entries of its history)
        instead of refused: that is how a user rewrites it on purpose (``models promote``).
        """
        self.model_dir(version)
        try:
            pointer = self._pointer()
        except ArtifactError:
            if not repair:
                raise
            pointer = {"current": None, "history": self._salvaged_history()}
        previous = pointer["current"]
        history = list(pointer["history"])
        if previous != version:
            history.append(version)
        write_json_atomic(self.current_path, {"current": version, "history": history})
        return previous

    def _salvaged_history(self) -> list[str]:
        try:
            history = read_json(self.current_path).get("history", [])
        except ArtifactError:
            return []
        return [v for v in history if ids.is_version(v)] if isinstance(history, list) else []

    def rollback(self) -> tuple[str, str]:
        """Return to the previous champion; returns (from_version, to_version)."""
        history = self.promotion_history()
        if len(history) < 2:
            raise ArtifactError(
                "there is no previous current model to roll back to",
                hint="'churnctl models history' shows what has been current",
            )
        leaving, target = history[-1], history[-2]
        self.verify(target)  # never roll back onto a damaged or tampered version
        write_json_atomic(self.current_path, {"current": target, "history": history[:-1]})
        return leaving, target

    def prune(self, version: str) -> None:
        """Delete a model version: moved out of ``models/`` in one step, then removed.

        Refused for the current model and the previous champion, compared as resolved real paths so
        that no spelling or link in a registry file can make a protected version look like another.
        """
        folder = self.model_dir(version)
        protected = self.protected_versions()
        real = folder.resolve()
        if version in protected or any((self.models_dir / v).resolve() == real for v in protected):
            raise ArtifactError(f"refusing to delete model {version}: it is the current model or the previous champion")
        trash = self.staging_dir / f"pruned-{version}-{uuid.uuid4().hex[:8]}"
        make_dirs(trash.parent)
        os.rename(folder, trash)
        pointer = self._pointer()
        if version in pointer["history"]:
            pointer["history"] = [v for v in pointer["history"] if v != version]
            write_json_atomic(self.current_path, pointer)
        shutil.rmtree(trash, ignore_errors=True)
