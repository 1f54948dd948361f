"""Registry files: safe reads, checksums against a manifest, the mode rule for loading, and staged
versions (crash-safe writes themselves are :mod:`churnctl.runtime.files`).

Reads of registry files never follow a symbolic link, never block on a FIFO or device, and hash
the very bytes that are then parsed: a file swapped between the check and the load cannot get in.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from churnctl.errors import ArtifactError
from churnctl.runtime.files import file_mode, write_new_file


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

    @contextmanager
    def open(self, name: str) -> Iterator[HashingFile]:
        """A new file to write as a stream (a Parquet part too large to hold as bytes), hashed as it is
        written; recorded when the ``with`` block ends without an error."""
        fd = os.open(self.path / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, file_mode())
        handle = HashingFile(os.fdopen(fd, "wb"))
        try:
            yield handle
            handle.flush()
            os.fsync(fd)
        finally:
            handle.close()
        self.files[name] = handle.sha256.hexdigest()


class HashingFile(io.RawIOBase):
    """A binary file being written that hashes the bytes written through it."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[no-untyped-def]  # bytes-like
        view = memoryview(data).cast("B")
        self.sha256.update(view)
        self.raw.write(view)
        self.written += len(view)
        return len(view)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        if not self.raw.closed:
            self.raw.flush()

    def close(self) -> None:
        if not self.raw.closed:
            self.raw.close()
        super().close()
