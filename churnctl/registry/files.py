"""Checksums, permissions, safe reads and crash-safe writes.

Reads of registry files never follow a symbolic link, never block on a FIFO or device, and hash
the very bytes that are then parsed: a file swapped between the check and the load cannot get
in. Writes go to a temporary name, are flushed, then renamed.

Permissions: every file and folder of the registry is created as the umask says (so that another
account, such as a service that only scores, can read what the umask lets it read) but never
writable by the group or by others: a model file that others can change is code they can run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
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


def read_regular(path: Path, keep: bool = True, digest: bool = True) -> tuple[bytes | None, str, os.stat_result]:
    """(bytes if ``keep``, SHA-256 if ``digest`` else "", stat) of a regular file, read through one
    descriptor opened without following a symbolic link or blocking; anything else is an
    :class:`ArtifactError`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ArtifactError(
            f"artifact {path} is missing",
            hint="the version is damaged; retrain or restore the artifacts directory from a backup",
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArtifactError(
                f"{path} is a symbolic link; churnctl only reads files it wrote",
                hint="replace the link with the file itself, or restore the version from a backup",
            ) from None
        raise ArtifactError(f"cannot read {path}: {exc.strerror}", hint="check the file's permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArtifactError(
                f"{path} is not a regular file",
                hint=f"move it aside (mv {path} {path}.bad) and restore the file from a backup",
            )
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        sha, parts = hashlib.sha256() if digest else None, []
        while block := os.read(fd, 1 << 20):
            if sha is not None:
                sha.update(block)
            if keep:
                parts.append(block)
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc.strerror}", hint="check the file's permissions") from None
    finally:
        os.close(fd)
    return (b"".join(parts) if keep else None), (sha.hexdigest() if sha is not None else ""), info


def refuse_writable_by_others(folders: list[Path], files: list[tuple[Path, int]]) -> None:
    """The one rule for loading and verifying a model version: neither ``models/``, its folder nor its
    files may be writable by the group or others (``files``: paths with the mode read with them)."""
    for path, mode in [(f, os.lstat(f).st_mode) for f in folders] + files:
        if mode & 0o022:
            raise ArtifactError(
                f"refusing to load {path}: its mode {stat.S_IMODE(mode):04o} lets other accounts "
                "change it, and a model file runs as code when loaded",
                hint=f"check who changed it, then 'chmod go-w {path}'",
            )


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
    """A registry JSON file, read safely; a damaged one is an artifact problem (exit 4), not a crash."""
    data, _, _ = read_regular(path, digest=False)
    try:
        payload = json.loads(data or b"")
    except (ValueError, RecursionError) as exc:
        raise ArtifactError(
            f"cannot read {path}: {str(exc)[:200]}",
            hint="the artifacts directory is damaged; restore the file from a backup",
        ) from None
    if not isinstance(payload, expected):
        raise ArtifactError(
            f"{path} holds a {type(payload).__name__}, expected a JSON {expected.__name__}",
            hint="the artifacts directory is damaged; restore the file from a backup",
        )
    return payload


def verify_files(folder: Path, manifest: dict[str, Any], names: set[str] | None = None) -> dict[str, bytes]:
    """Read the files a manifest lists (or only ``names`` of them) and check their SHA-256; returns the
    bytes read when ``names`` is given (what the caller then parses), else only checks."""
    found: dict[str, bytes] = {}
    for name, expected in manifest.get("files", {}).items():
        if names is not None and name not in names:
            continue
        data, digest, _ = read_regular(folder / name, keep=names is not None)
        if digest != expected:
            raise ArtifactError(
                f"artifact {folder / name} was modified after it was written (SHA-256 mismatch)",
                hint="it will not be loaded; restore it from a backup or retrain",
            )
        if data is not None:
            found[name] = data
    return found


class Staged:
    """A version being written in ``.staging``: files are written once, by churnctl, and their
    checksums are those of the bytes written (never re-read from a folder others can reach)."""

    def __init__(self, path: Path):
        self.path = path
        self.files: dict[str, str] = {}

    def write(self, name: str, data: bytes) -> None:
        self.files[name] = write_new_file(self.path / name, data)
