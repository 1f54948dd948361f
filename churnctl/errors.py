"""One exception hierarchy; each class carries the process exit code it maps to.

The CLI turns a :class:`ChurnctlError` into one message on stderr and its exit code, in one
place (``churnctl.cli.app.main``). Anything else that escapes is a bug (exit 70).
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_ARTIFACT = 4
EXIT_INTERNAL = 70
EXIT_LOCKED = 75

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_DRIFT: "drift detected (drift-check only)",
    EXIT_USAGE: "usage error: bad option, flag or configuration file",
    EXIT_DATA: "invalid input data: unreadable or empty file, malformed JSON, schema violation",
    EXIT_ARTIFACT: "artifact problem: nothing trained yet, unknown version, checksum mismatch, incompatible format",
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


class UsageError(ChurnctlError):
    exit_code = EXIT_USAGE


class DataError(ChurnctlError):
    exit_code = EXIT_DATA


class ArtifactError(ChurnctlError):
    exit_code = EXIT_ARTIFACT


class LockHeldError(ChurnctlError):
    exit_code = EXIT_LOCKED


def preview(items: Iterable[object], limit: int = 8) -> str:
    """Sorted, capped, comma-separated list for messages: 'a, b, c (+4 more)'."""
    items = sorted(str(i) for i in items)
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
