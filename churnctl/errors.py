"""One exception hierarchy; each class carries the process exit code it maps to.

The CLI turns a :class:`ChurnctlError` into one message on stderr and its exit code, in one
place (``churnctl.cli.app.main``). Anything else that escapes is a bug (exit 70).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_ARTIFACT = 4
EXIT_CLUSTER = 5
EXIT_INTERNAL = 70
EXIT_LOCKED = 75

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_DRIFT: "drift detected (drift-check only)",
    EXIT_USAGE: "usage error: bad option, flag or configuration file",
    EXIT_DATA: "invalid input data: unreadable or empty file, malformed JSON, schema violation",
    EXIT_ARTIFACT: "artifact problem: nothing trained yet, unknown version, checksum mismatch, incompatible format",
    EXIT_CLUSTER: "the Dask cluster failed (--engine dask): workers died or the scheduler went away",
    EXIT_LOCKED: "another run holds the registry lock",
    EXIT_INTERNAL: "internal error, a bug (rerun with -v for a traceback and report it)",
}


class ChurnctlError(Exception):
    """Base class: a problem the user can act on. ``hint`` says what to do."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"

    def __reduce__(self) -> tuple:
        """Pickled whole (hint and any other attribute), so that an error raised on a Dask worker is
        the same error, with the same message, hint and exit code, on the client."""
        return (_restore, (type(self), dict(self.__dict__)))


def _restore(cls: type[ChurnctlError], state: dict) -> ChurnctlError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message"))
    error.__dict__.update(state)
    return error


class UsageError(ChurnctlError):
    exit_code = EXIT_USAGE


class DataError(ChurnctlError):
    exit_code = EXIT_DATA


class ArtifactError(ChurnctlError):
    exit_code = EXIT_ARTIFACT


class ClusterError(ChurnctlError):
    exit_code = EXIT_CLUSTER


class LockHeldError(ChurnctlError):
    exit_code = EXIT_LOCKED


class Interrupted(BaseException):
    """SIGINT or SIGTERM, raised in the main thread by churnctl's own handlers: it unwinds like
    KeyboardInterrupt (temporary files and staged versions are removed on the way out), but no
    library takes it for something else; the process exits with 128 + the signal number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class PipeClosed(BaseException):
    """The reader of standard output went away (``churnctl predict ... | head -1``): not an error."""


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters (a 5,000-digit cell stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(str(value))} characters)"


def preview(items: Iterable[object], limit: int = 8) -> str:
    """Sorted, capped, comma-separated list for messages: 'a, b, c (+4 more)'."""
    items = sorted(str(i) for i in items)
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space (df -h shows where), then rerun",
    errno.EDQUOT: "your disk quota is used up: free space, then rerun",
    errno.EROFS: "the file system is mounted read-only: use a writable directory, or remount it read-write",
    errno.EACCES: "you lack permission: check the owner and mode (ls -ld), or run as the owner",
    errno.EPERM: "you lack permission: check the owner and mode (ls -ld), or run as the owner",
    errno.ENOTDIR: "a part of the path is a file where a directory is expected",
    errno.EISDIR: "a directory stands where a file is expected",
    errno.ENOENT: "a part of the path does not exist, or is not a directory churnctl may create",
    errno.ELOOP: "a symbolic link stands where churnctl expects a plain file or directory",
}


# Operating-system failures that no choice of path avoids: the machine, not the command line, failed.
_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}


def output_error(where: str, exc: OSError, fallback_hint: str) -> ChurnctlError:
    """The error for an output that could not be written: exit 4 when the machine failed (a full disk,
    a quota, an I/O error), exit 2 when the path chosen cannot be written (missing, a file in the way,
    no permission, a read-only place)."""
    kind = ArtifactError if exc.errno in _FAILURES else UsageError
    return kind(f"cannot write {where}: {os_reason(exc)}", hint=os_hint(exc, fallback_hint))


def os_reason(exc: OSError) -> str:
    """What an operating-system error says, with the file it names."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}: {exc.filename}" if exc.filename else reason


def os_hint(exc: OSError, fallback: str) -> str:
    """What to do about an operating-system error (disk full, read-only, permissions...)."""
    return _OS_HINTS.get(exc.errno or -1, fallback)
