"""Inputs made of partitions: a CSV/Parquet file, a directory of them, a glob, or the same at a URL.

``predict --input``, ``drift-check --current`` and ``evaluate --data`` take any of these. A
:class:`Source` lists its :class:`Part` s in a fixed order (name order; Parquet files are one part
each), and every engine reads them in that order with the readers of :mod:`churnctl.data.tables`, so a
row's number — its position in the whole input — is the same whichever engine reads it and however
the rows are split into files. URLs (``s3://bucket/prefix/``, ``gs://…``, ``https://…``) are read
through the user's fsspec installation: each part is copied to a local temporary file first (by the
machine that reads it), then read as a local file.
"""

from __future__ import annotations

import glob as globbing
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnctl.data import tables
from churnctl.errors import DataError, UsageError

# Files a folder or glob contributes (".txt", which a single --input may be, would take in README.txt).
SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", *tables.PARQUET_SUFFIXES)
GLOB_CHARACTERS = frozenset("*?[")


def is_url(spec: str) -> bool:
    return "://" in spec and not spec.startswith("file://")


@dataclass(frozen=True)
class Part:
    """One file of an input: an absolute local path or a URL (``label``: how messages name it, when
    the part is a local copy of a URL)."""

    location: str
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.location

    @property
    def is_parquet(self) -> bool:
        return self.location.lower().endswith(tables.PARQUET_SUFFIXES)

    @contextmanager
    def fetched(self) -> Iterator[Part]:
        """This part as a local file while the ``with`` block runs: itself, or a temporary copy of a
        URL's bytes, fetched once however often the block reads it."""
        if not is_url(self.location):
            yield self
            return
        fsspec = _fsspec(self.location)
        from churnctl.data.outputs import spool_path

        folder = str(spool_path("part"))
        try:
            copy = Path(folder) / Path(self.location.rstrip("/")).name
            try:
                with fsspec.open(self.location, "rb") as remote, open(copy, "wb") as handle:
                    shutil.copyfileobj(remote, handle, 1 << 22)
            except (OSError, ValueError) as exc:
                hint = "check the URL and your credentials"
                raise DataError(f"cannot read {self.location}: {exc}", hint=hint) from None
            yield Part(str(copy), label=self.location)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def local(self) -> Iterator[str]:
        with self.fetched() as part:
            yield part.location

    def header(self) -> list[str]:
        with self.local() as path:
            return tables.read_header(path)

    def estimate_rows(self) -> int | None:
        """Data rows: exact for Parquet (its metadata, also at a URL), estimated for a local CSV (see
        :func:`churnctl.data.tables.estimate_rows`); None for a CSV at a URL."""
        if not is_url(self.location):
            return tables.estimate_rows(self.location)
        if not self.is_parquet:
            return None
        import pyarrow.parquet as pq

        try:
            with _fsspec(self.location).open(self.location, "rb") as remote:
                return int(pq.ParquetFile(remote).metadata.num_rows)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {self.location}: {exc}", hint="check the URL and your credentials") from None

    def batches(
        self, columns: list[str] | None, batch_rows: int, numeric: tuple[str, ...] | list[str] = ()
    ) -> Iterator[pd.DataFrame]:
        with self.local() as path:
            yield from tables.iter_table(path, columns=columns, batch_rows=batch_rows, numeric=numeric)

    def reading(self) -> Any:
        """What reading the part found beyond its rows (a prediction log's skipped records); None here."""
        return None

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.local() as path, open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()


@dataclass
class Source:
    """An input and its parts, in reading order."""

    spec: str
    parts: list[Part] = field(default_factory=list)

    @property
    def single(self) -> bool:
        return len(self.parts) == 1 and self.parts[0].name == self.spec

    @property
    def where(self) -> str:
        """The input for the record: an absolute path (or glob), or the URL."""
        return self.spec if is_url(self.spec) else os.path.abspath(self.spec)

    def read_header(self) -> list[str]:
        """The first part's columns (every part is checked against the model when it is read)."""
        return self.parts[0].header()

    def estimate_rows(self) -> int | None:
        """Rows of all parts (see :func:`churnctl.data.tables.estimate_rows`); None if any part's is unknown."""
        total = 0
        for part in self.parts:
            rows = part.estimate_rows()
            if rows is None:
                return None
            total += rows
        return total

    def batches(
        self, columns: list[str] | None, batch_rows: int, numeric: tuple[str, ...] | list[str] = ()
    ) -> Iterator[pd.DataFrame]:
        for part in self.parts:
            yield from part.batches(columns, batch_rows, numeric)

    def sha256(self, digests: list[str] | None = None) -> str:
        """The file's SHA-256, or for several parts the SHA-256 of their names and SHA-256s, one line each."""
        digests = digests if digests is not None else [p.sha256() for p in self.parts]
        if self.single:
            return digests[0]
        listing = "".join(f"{p.name} {d}\n" for p, d in zip(self.parts, digests, strict=True))
        return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def resolve(spec: str | os.PathLike, label: str | None = None) -> Source:
    """The parts of an input: a file; a directory (its CSV/Parquet files at any depth, in name order);
    a glob (``data/2026-*.parquet``); or any of these at a URL fsspec reads. ``label``: how messages
    name a single file (``stdin`` for standard input copied to a temporary file)."""
    text = normalise(spec)
    if is_url(text):
        return Source(text, [Part(p) for p in _remote_parts(text)])
    path = Path(text)
    if GLOB_CHARACTERS & set(text) and not path.exists():
        found = sorted(p for p in globbing.glob(text, recursive=True) if Path(p).is_file() and _table(p))
        if not found:
            raise DataError(f"no CSV or Parquet file matches {text}", hint="check the pattern (quote it in the shell)")
        return Source(text, [Part(os.path.abspath(p)) for p in found])
    if path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.is_file() and _table(p.name) and not _hidden(p, path))
        if not found:
            raise DataError(
                f"directory {path} holds no CSV or Parquet file",
                hint=f"partitions are files ending in {', '.join(SUFFIXES)}",
            )
        return Source(text, [Part(os.path.abspath(p)) for p in found])
    return Source(text, [Part(os.path.abspath(text), label=label or text)])


def normalise(spec: str | os.PathLike) -> str:
    """An input as typed, tidied: a local path as :class:`pathlib.Path` writes it (``file://`` dropped),
    a URL unchanged."""
    text = str(spec)
    if is_url(text):
        return text
    if text.startswith("file://"):
        text = text[len("file://") :]
    return str(Path(text))


def _table(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def _hidden(path: Path, root: Path) -> bool:
    """Files and folders starting with '.' or '_' (Spark's _SUCCESS, temporary files) are not parts."""
    return any(p.startswith((".", "_")) for p in path.relative_to(root).parts)


def _fsspec(url: str):  # type: ignore[no-untyped-def]
    try:
        import fsspec
    except ImportError:
        raise UsageError(
            f"reading {url} needs fsspec (and the package of its protocol, such as s3fs)",
            hint="pip install fsspec s3fs (or gcsfs, adlfs ...), or copy the files to a local folder",
        ) from None
    return fsspec


def _remote_parts(url: str) -> list[str]:
    fsspec = _fsspec(url)
    try:
        fs, root = fsspec.core.url_to_fs(url)
        if GLOB_CHARACTERS & set(root):
            paths = sorted(fs.glob(root))
        elif fs.isdir(root):
            paths = sorted(fs.find(root))
        else:
            paths = [root]
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(
            f"cannot list {url}: {exc}", hint="check the URL, the fsspec package of its protocol and your credentials"
        ) from None
    found = [fs.unstrip_protocol(p) for p in paths if _table(p) and not Path(p).name.startswith((".", "_"))]
    if not found:
        raise DataError(
            f"no CSV or Parquet file at {url}", hint=f"partitions are files ending in {', '.join(SUFFIXES)}"
        )
    return found
