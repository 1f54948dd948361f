"""Files written safely on disk, for every layer: crash-safe writes (a temporary name, flushed,
synced, renamed), checksums, and the modes churnctl creates files and folders with.

Permissions: every file and folder is created as the umask says (so that another account, such as a
service that only scores, can read what the umask lets it read) but never writable by the group or
by others: a model file that others can change is code they can run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_new_file(path: Path, data: bytes) -> str:
    """Create ``path`` (it must not exist; a link planted there is not followed) with ``data``, synced,
    with :func:`file_mode`; returns the SHA-256 of ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, file_mode())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return hashlib.sha256(data).hexdigest()


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
    # dir_mode() lies within the umask, so mkdir creates exactly that mode
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=dir_mode())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: Any, *, compact: bool = False) -> None:
    """Replace ``path`` with ``payload`` so that readers see the old or the new file, never half
    (``compact``: no indentation and no NaN, for files kept by the thousand)."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())  # mkstemp creates 0600, which would lock out other readers
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if compact:
                json.dump(payload, handle, separators=(",", ":"), allow_nan=False, default=str)
            else:
                json.dump(payload, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
