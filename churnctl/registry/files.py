"""Checksums and crash-safe writes: data goes to a temporary name, is flushed, then renamed."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload) -> None:
    """Replace ``path`` with ``payload`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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


def read_json(path: Path, expected: type = dict):
    """A registry JSON file; a damaged one is an artifact problem (exit 4), not a crash."""
    from churnctl.errors import ArtifactError

    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}",
                            hint="the artifacts directory is damaged; restore the file from a backup") from None
    if not isinstance(payload, expected):
        raise ArtifactError(f"{path} holds a {type(payload).__name__}, expected a JSON {expected.__name__}",
                            hint="the artifacts directory is damaged; restore the file from a backup")
    return payload
