"""Reading and writing tabular files: CSV (optionally compressed), Parquet and JSON rows.

CSV cells are read as text and typed later by :mod:`churnctl.contract.values`, so that ingest, predict and
later checks apply one set of rules (blank numeric cells are missing, "abc" in a numeric column is
an error naming row and column) instead of whatever a parser guessed for one file. The batch
reader may parse a model's numeric columns as numbers first, as a shortcut: any cell that is not a
plain finite number sends the file back to text reading. Readers come
in two forms: whole-table (training needs all rows) and batch iterators with bounded memory
(scoring and monitoring of files larger than memory).
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from churnctl.errors import DataError, UsageError, preview

# Cells read as missing, as pandas and most tools read them.
NULL_TOKENS = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "#N/A"]
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".txt")
COMPRESSION = {".gz": "gzip", ".bz2": "bz2"}
PARQUET_SUFFIXES = (".parquet", ".pq")


def file_format(path: str | os.PathLike) -> str:
    name = str(path).lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise UsageError(
        f"cannot tell the format of {path}: expected a .csv or .parquet file",
        hint="rename the file with a .csv, .csv.gz, .csv.bz2 or .parquet extension",
    )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"input file {path} does not exist", hint="check the path")
    if path.is_dir():
        raise DataError(f"input {path} is a directory, expected a file")
    if not path.is_file():
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(path.stat().st_mode) else "not a regular file"
        raise DataError(
            f"input {path} is {kind}: churnctl reads an input more than once (its header, then its rows)",
            hint="write the rows to a file first, or pipe them to standard input ('--input -') where the "
            "command takes it",
        )
    if path.stat().st_size == 0:
        raise DataError(
            f"input file {path} is empty (0 bytes)", hint="expected a header line and at least one data row"
        )


def read_header(path: str | os.PathLike) -> list[str]:
    """Column names, in order; rejects empty headers and duplicated names."""
    path = Path(path)
    _check_readable(path)
    if file_format(path) == "parquet":
        try:
            names = list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path} is not a readable Parquet file: {exc}") from None
    else:
        try:
            with pa.input_stream(str(path), compression="detect") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                names = next(csv.reader(text), [])
        except UnicodeDecodeError:
            raise DataError(
                f"{path} is not UTF-8 text", hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
            ) from None
        except (pa.ArrowException, OSError, csv.Error) as exc:
            raise DataError(f"cannot read the header of {path}: {exc}") from None
        names = [n.strip() for n in names]
    if not names or all(n == "" for n in names):
        raise DataError(f"{path} has no header line", hint="the first line must name the columns")
    if any(n == "" for n in names):
        raise DataError(
            f"{path} has an unnamed column (position {names.index('') + 1})",
            hint="give every column a name in the header",
        )
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise DataError(
            f"{path} has duplicate column names: {preview(dupes)}",
            hint="rename the columns so that each name appears once",
        )
    return names


def estimate_rows(path: str | os.PathLike, probe_bytes: int = 1 << 20) -> int | None:
    """Data rows of a file, without reading it: exact for Parquet (its metadata), estimated for an
    uncompressed CSV from its size and the line lengths of its first ``probe_bytes``; None for a
    compressed CSV."""
    path = Path(path)
    if file_format(path) == "parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (pa.ArrowException, OSError):
            return None
    if path.suffix.lower() in COMPRESSION:
        return None
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(probe_bytes)
    header_end = head.find(b"\n") + 1
    if header_end == 0:
        return 0
    if len(head) == size:  # the whole file: count its lines
        return head.count(b"\n", header_end) + (0 if head.endswith(b"\n") else 1)
    body = head[header_end : head.rfind(b"\n") + 1]
    lines = body.count(b"\n")
    return max(1, round((size - header_end) * lines / len(body))) if lines else None


def _csv_options(
    names: list[str], columns: list[str] | None, numeric: Collection[str] = ()
) -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22)
    wanted = names if columns is None else [c for c in names if c in set(columns)]
    convert = pacsv.ConvertOptions(
        column_types={c: pa.float64() if c in numeric else pa.string() for c in wanted},
        null_values=NULL_TOKENS,
        strings_can_be_null=True,
        include_columns=wanted,
    )
    return read, convert


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=None, self_destruct=True)


def _arrow_error(path: Path, exc: Exception) -> DataError:
    text = str(exc)
    if "UTF8" in text or "utf8" in text or "UTF-8" in text:
        return DataError(
            f"{path} contains bytes that are not UTF-8 text",
            hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        )
    return DataError(
        f"cannot parse {path}: {text.splitlines()[0] if text else exc!r}",
        hint="check that it is a well-formed CSV with one header line",
    )


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """The whole file as a DataFrame (CSV cells as text, Parquet with its own types)."""
    path = Path(path)
    names = read_header(path)
    try:
        if file_format(path) == "parquet":
            table = pq.read_table(path, columns=[c for c in names if columns is None or c in columns])
        else:
            read, convert = _csv_options(names, columns)
            table = pacsv.read_csv(str(path), read_options=read, convert_options=convert)
    except (pa.ArrowException, OSError) as exc:
        raise _arrow_error(path, exc) from None
    return _arrow_to_pandas(table)


def iter_table(
    path: str | os.PathLike,
    columns: list[str] | None = None,
    batch_rows: int = 200_000,
    numeric: Collection[str] = (),
) -> Iterator[pd.DataFrame]:
    """The file in consecutive DataFrames of about ``batch_rows`` rows, with bounded memory.

    CSV cells are text, except the ``numeric`` columns, which the reader parses as numbers (the
    costly part of reading numeric columns as text is converting them afterwards). Should a cell of
    one of them not be a plain number, the rest of the file is read as text, where the rules of
    :mod:`churnctl.contract.frames` apply and name the cell.
    """
    path = Path(path)
    names = read_header(path)
    try:
        if file_format(path) == "parquet":
            wanted = [c for c in names if columns is None or c in columns]
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=wanted):
                yield _arrow_to_pandas(pa.Table.from_batches([batch]))
            return
        done = 0
        if numeric:
            try:
                for frame in _csv_batches(path, names, columns, batch_rows, numeric, skip=0):
                    yield frame
                    done += len(frame)
                return
            except (pa.ArrowInvalid, _NotPlainNumbers):
                pass  # not a plain number somewhere: read again as text, past the rows already given
        yield from _csv_batches(path, names, columns, batch_rows, (), skip=done)
    except (pa.ArrowException, OSError) as exc:
        raise _arrow_error(path, exc) from None


class _NotPlainNumbers(Exception):
    """A numeric column holds NaN or infinity spelled out: the text rules must judge those cells."""


def _csv_batches(
    path: Path, names: list[str], columns: list[str] | None, batch_rows: int, numeric: Collection[str], skip: int
) -> Iterator[pd.DataFrame]:
    """Frames of ``batch_rows`` rows, after dropping the first ``skip`` data rows (counted as parsed
    rows, so blank lines and line breaks inside quoted cells cannot shift them)."""
    read, convert = _csv_options(names, columns, numeric)
    reader = pacsv.open_csv(str(path), read_options=read, convert_options=convert)
    pending = None
    for batch in reader:
        table = pa.Table.from_batches([batch])
        for name in numeric:
            if name in table.column_names:
                values = table.column(name)
                if pc.any(pc.or_(pc.is_nan(values), pc.is_inf(values))).as_py():
                    raise _NotPlainNumbers(name)
        if skip:
            dropped = min(skip, table.num_rows)
            table, skip = table.slice(dropped), skip - dropped
        pending = table if pending is None else pa.concat_tables([pending, table])
        while pending.num_rows >= batch_rows:
            yield _arrow_to_pandas(pending.slice(0, batch_rows))
            pending = pending.slice(batch_rows)
    if pending is not None and pending.num_rows:
        yield _arrow_to_pandas(pending)
