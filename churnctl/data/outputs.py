"""Writing outputs (scored batches, simulated files): atomically, so that a reader never sees half a
file and a failure or a kill leaves nothing half-written behind; an operating-system error (disk
full, no permission, a directory in the way) names the output: exit 2 for a path that cannot be
written, exit 4 when the machine failed (:func:`churnctl.errors.output_error`)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churnctl.data.tables import COMPRESSION, file_format
from churnctl.errors import ChurnctlError, DataError, UsageError, output_error
from churnctl.runtime.files import current_umask


@contextlib.contextmanager
def output_faults(path: Path | None) -> Iterator[None]:
    """An operating-system error while writing an output (disk full, no permission, a directory
    in the way), as an error naming the output."""
    try:
        yield
    except OSError as exc:
        where = str(path) if path is not None else "the standard output"
        raise output_error(where, exc, "choose another --output path") from None


def atomic_output(path: str | os.PathLike, make_parents: bool = True) -> _AtomicOutput:
    """A temporary path beside ``path``, moved into place when the ``with`` block ends without error."""
    return _AtomicOutput(Path(path), make_parents)


class _AtomicOutput:
    def __init__(self, path: Path, make_parents: bool = True):
        self.path = path
        with output_faults(path):
            if make_parents:
                path.parent.mkdir(parents=True, exist_ok=True)
            _clear_stray_temporaries(path)
            prefix = f"{_temporary_prefix(path)}{os.getpid()}."
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
            os.close(fd)
            # mkstemp makes 0600; outputs get the usual permissions, but never writable by everyone
            os.chmod(tmp, 0o666 & ~current_umask() & ~0o002)
        self.tmp = Path(tmp)

    def __enter__(self) -> _AtomicOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            try:
                with output_faults(self.path):
                    os.replace(self.tmp, self.path)
            finally:
                self.tmp.unlink(missing_ok=True)
        else:
            self.tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
                raise output_error(str(self.path), exc, "choose another output path") from None


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


# What churnctl leaves behind when it is killed (SIGKILL, a power cut), each naming its process:
# the temporary file of an output (``.NAME.PID.XXXXXXXX.tmp``), of a dask output folder
# (``.NAME.staging-PID-XXXXXXXX``), of CSV rows on their way to stdout and of standard input.
_OUTPUT_LEFTOVER = re.compile(r"\..+\.(\d+)\.[a-z0-9_]+\.tmp")
_FOLDER_LEFTOVER = re.compile(r"\..+\.staging-(\d+)-[0-9a-f]{8}")
_SPOOL_LEFTOVER = re.compile(r"churnctl-(?:stdout|stdin|part)-(\d+)-.+")


def clear_leftovers(folder: Path, pattern: re.Pattern[str]) -> None:
    """Remove what killed churnctl runs left in ``folder`` (names matching ``pattern``, whose first group
    is the pid of a process that is gone); a live run's files are left alone."""
    try:
        names = [p for p in folder.iterdir() if (m := pattern.fullmatch(p.name)) and not _alive(int(m.group(1)))]
    except OSError:
        return  # an unreadable folder: nothing of ours can be there
    for stray in names:
        if stray.is_dir() and not stray.is_symlink():
            shutil.rmtree(stray, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stray.unlink()


def spool_path(kind: str, suffix: str = "") -> Path:
    """A new private temporary file (``kind``: stdout) or folder (stdin, part) in the system's temporary
    folder, named with this process's id so that a later run removes it if this one is killed."""
    root = Path(tempfile.gettempdir())
    clear_leftovers(root, _SPOOL_LEFTOVER)
    prefix = f"churnctl-{kind}-{os.getpid()}-"
    if suffix:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix)
        os.close(fd)
        return Path(tmp)
    return Path(tempfile.mkdtemp(prefix=prefix))


def _clear_stray_temporaries(path: Path) -> None:
    """Remove the temporary files that killed runs left beside ``path`` (their process is gone)."""
    clear_leftovers(path.parent, _OUTPUT_LEFTOVER)
    clear_leftovers(path.parent, _FOLDER_LEFTOVER)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; a number no process can have
        return False
    except PermissionError:
        return True  # another user's process
    return True


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write CSV or Parquet by extension, atomically (a reader never sees half a file)."""
    path = Path(path)
    fmt = file_format(path)
    with atomic_output(path) as out:
        if fmt == "parquet":
            frame.to_parquet(out.tmp, index=False)
        else:
            frame.to_csv(out.tmp, index=False, compression=COMPRESSION.get(path.suffix))


def _csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    """``frame`` as CSV: written by Arrow (several times faster than pandas) when every column holds
    text or numbers and no value needs quoting, else by pandas. The header line is pandas' in both
    cases. The two differ only in how they spell some numbers (Arrow ``1`` and ``0.000001`` for
    pandas ``1.0`` and ``1e-06``), which every CSV reader parses to the same values."""
    head = frame.head(0).to_csv(index=False).encode() if header else b""
    plain = all(
        pd.api.types.is_integer_dtype(t) or pd.api.types.is_float_dtype(t) or pd.api.types.is_string_dtype(t)
        for t in frame.dtypes
    )
    if not plain or frame.shape[1] < 2:  # one column: Arrow would write a missing value as a blank line
        return head + frame.to_csv(index=False, header=False).encode()
    try:
        buffer = io.BytesIO()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        return head + buffer.getvalue()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return head + frame.to_csv(index=False, header=False).encode()


class TableWriter:
    """Write a table in consecutive frames to CSV or Parquet (or CSV on stdout), atomically.

    Frames go to a temporary file; on success it is renamed into place (or copied to stdout), so a
    failure half-way leaves no partial output behind.
    """

    def __init__(self, path: str | os.PathLike | None, make_parents: bool = True):
        self.path = Path(path) if path is not None else None
        self.format = file_format(self.path) if self.path is not None else "csv"
        self._target = atomic_output(self.path, make_parents) if self.path is not None else None
        if self._target is None:
            self._tmp = spool_path("stdout", ".csv")
        else:
            self._tmp = self._target.tmp
        self._parquet: pq.ParquetWriter | None = None
        self._csv_header = True

    def write(self, frame: pd.DataFrame) -> None:
        with output_faults(self.path):
            try:
                self._write(frame)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:  # a later part's columns differ
                raise DataError(
                    f"cannot add these rows to {self.path or 'the output'}: their columns or types differ from the "
                    f"rows before them ({str(exc).splitlines()[0][:200]})",
                    hint="give parts with the same columns, in one format",
                ) from None

    def _write(self, frame: pd.DataFrame) -> None:
        if self.format == "parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._tmp, table.schema)
            self._parquet.write_table(table)
        else:
            compression = COMPRESSION.get(self.path.suffix) if self.path else None
            if compression:  # compressed streams concatenate into one valid file
                frame.to_csv(self._tmp, mode="ab", index=False, header=self._csv_header, compression=compression)
            else:
                with open(self._tmp, "ab") as handle:
                    handle.write(_csv_bytes(frame, self._csv_header))
            self._csv_header = False

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._parquet is not None:
            try:
                with output_faults(self.path):
                    self._parquet.close()
            except ChurnctlError:
                if self._target is not None:
                    self._target.__exit__(ChurnctlError, None, None)
                raise
        if self._target is not None:
            self._target.__exit__(exc_type, exc, tb)
            return
        try:
            if exc_type is None:
                with open(self._tmp, encoding="utf-8") as handle:
                    shutil.copyfileobj(handle, sys.stdout)
                sys.stdout.flush()
        finally:
            self._tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def spooled_stdin(path: Path | str | None) -> Iterator[str]:
    """The path to read: ``path`` itself, or for ``-`` standard input copied (in blocks, whatever
    its size) to a temporary CSV file that is removed afterwards (or by a later run, if this one is
    killed). Empty standard input is a data error that says so."""
    if path is None or str(path) != "-":
        yield str(path)
        return
    folder = spool_path("stdin")
    tmp = str(folder / "stdin.csv")
    try:
        with open(tmp, "wb") as handle:
            stream = getattr(sys.stdin, "buffer", None)
            if stream is not None:
                shutil.copyfileobj(stream, handle, 1 << 20)
            else:  # a text stream (tests)
                handle.write(sys.stdin.read().encode("utf-8"))
        if not os.path.getsize(tmp):
            raise DataError(
                "standard input is empty: no rows were given",
                hint="pipe CSV rows (a header line and at least one data row) into '--input -', or give a file",
            )
        yield tmp
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_output_file(path: Path, option: str, hint: str) -> None:
    """Fail before the work when an output file could not be written: ``path`` must not be a folder
    and its folder must exist (churnctl creates no folders for reports and metrics files)."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory", hint=hint)
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: folder {path.parent} does not exist", hint=f"create it first; {hint}")


@contextlib.contextmanager
def staged_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A folder of output files, published all at once: the files go to a hidden sibling folder, which
    is renamed to ``path`` (a new or empty folder) only when the ``with`` block ends without error;
    otherwise it is removed and ``path`` is left as it was."""
    target = Path(path).absolute()
    check_output_folder(target)
    clear_leftovers(target.parent, _FOLDER_LEFTOVER)
    staging = target.parent / f".{target.name}.staging-{os.getpid()}-{os.urandom(4).hex()}"
    with output_faults(target):
        staging.mkdir(mode=0o777 & ~current_umask() & ~0o002)
    try:
        yield staging
        with output_faults(target):
            if target.exists():
                target.rmdir()
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_output_folder(path: str | os.PathLike) -> None:
    """Fail before the work when ``path`` cannot become a new folder of output files."""
    target = Path(path)
    if target.is_symlink():
        raise UsageError(f"--output {target} is a symbolic link", hint="give the folder itself")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(
            f"--output {target} must be a new or empty folder (the predictions are one file per input part)",
            hint="choose a folder that does not exist yet",
        )
    if not target.parent.is_dir():
        raise UsageError(f"--output {target}: folder {target.parent} does not exist", hint="create it first")
