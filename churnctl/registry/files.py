"""Checksums, permissions and crash-safe writes: data goes to a temporary name, is flushed, then renamed.

Permissions: every file and folder of the registry is created as the umask says (so that another
account, such as a service that only scores, can read what the umask lets it read) but never
writable by the group or by others: a model file that others can change is code they can run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from churnctl.errors import ArtifactError


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def current_umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new registry file: the umask's choice, never group- or world-writable."""
    return 0o666 & ~current_umask() & ~0o022


def dir_mode() -> int:
    return 0o777 & ~current_umask() & ~0o022


def make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents with :func:`dir_mode`."""
    if path.is_dir():
        return
    if not path.parent.exists():
        make_dirs(path.parent)
    try:
        path.mkdir(mode=dir_mode())
    except FileExistsError:
        return
    os.chmod(path, dir_mode())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: Any) -> None:
    """Replace ``path`` with ``payload`` so that readers see the old or the new file, never half."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())  # mkstemp creates 0600, which would lock out other readers
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, expected: type = dict) -> Any:
    """A registry JSON file; a damaged one is an artifact problem (exit 4), not a crash."""
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            f"cannot read {path}: {exc}", hint="the artifacts directory is damaged; restore the file from a backup"
        ) from None
    if not isinstance(payload, expected):
        raise ArtifactError(
            f"{path} holds a {type(payload).__name__}, expected a JSON {expected.__name__}",
            hint="the artifacts directory is damaged; restore the file from a backup",
        )
    return payload


def verify_files(folder: Path, manifest: dict[str, Any], names: set[str] | None = None) -> None:
    """Check the files a manifest lists (or only ``names`` of them) against their SHA-256."""
    for name, expected in manifest.get("files", {}).items():
        if names is not None and name not in names:
            continue
        path = folder / name
        if not path.exists():
            raise ArtifactError(
                f"artifact {path} is missing",
                hint="the version is damaged; retrain or restore the artifacts directory from a backup",
            )
        if sha256_file(path) != expected:
            raise ArtifactError(
                f"artifact {path} was modified after it was written (SHA-256 mismatch)",
                hint="it will not be loaded; restore it from a backup or retrain",
            )
