"""Canonical names of model versions (``v0001``) and datasets (``ds-`` + 12 hex digits).

Every id that becomes part of a path goes through here, whether a user typed it or it was read
back from a registry file: a trailing slash, ``..``, an absolute path or any other spelling never
reaches the file system. A bad argument is a usage error (exit 2); a bad id inside a stored file
means the file is damaged or was tampered with (exit 4).
"""

from __future__ import annotations

import re
from typing import TypeGuard

from churnctl.errors import ArtifactError, UsageError

VERSION_PREFIX = "v"
DATASET_PREFIX = "ds-"
_VERSION = re.compile(r"v(?:[0-9]{4}|[1-9][0-9]{4,8})")
_DATASET = re.compile(r"ds-[0-9a-f]{12}")
_LOOSE_VERSION = re.compile(r"[vV]?0*([0-9]{1,9})")


def format_version(number: int) -> str:
    return f"{VERSION_PREFIX}{number:04d}"


def is_version(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _VERSION.fullmatch(value) is not None


def is_dataset_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _DATASET.fullmatch(value) is not None


def version_argument(text: str, option: str = "version") -> str:
    """A version typed by a user, in its canonical form: ``v2``, ``2`` and ``v0002`` are ``v0002``."""
    match = _LOOSE_VERSION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        stripped = text.strip().rstrip("/").rsplit("/", 1)[-1]
        guess = _LOOSE_VERSION.fullmatch(stripped)
        hint = (
            f"did you mean {format_version(int(guess.group(1)))}?"
            if guess and int(guess.group(1))
            else "a version is 'v' and its number, as 'churnctl models list' shows it (e.g. v0003)"
        )
        raise UsageError(f"{option} {text!r} is not a model version", hint=hint)
    return format_version(int(match.group(1)))


def dataset_argument(text: str, option: str = "dataset") -> str:
    value = text.strip().lower()
    if not is_dataset_id(value):
        raise UsageError(
            f"{option} {text!r} is not a dataset id",
            hint="a dataset id is 'ds-' and 12 hexadecimal digits, as 'churnctl ingest' prints it",
        )
    return value


def stored_version(value: object, where: str) -> str:
    """A version read from a registry file; anything but the canonical form is damage."""
    if not is_version(value):
        raise ArtifactError(
            f"{where} names {value!r}, which is not a model version",
            hint="the file is damaged or was altered; restore it from a backup "
            "(or rewrite the pointer with 'churnctl models promote VERSION')",
        )
    return value


def stored_dataset_id(value: object, where: str) -> str:
    if not is_dataset_id(value):
        raise ArtifactError(
            f"{where} names {value!r}, which is not a dataset id",
            hint="the file is damaged or was altered; restore it from a backup",
        )
    return value
