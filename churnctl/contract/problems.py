"""Every data-error message of the contract, worded once: what was expected, what was found, in which
rows, and what to do. :mod:`churnctl.contract.frames` (pandas frames) and :mod:`churnctl.contract.rows`
(JSON rows without pandas) both report through these, so ``predict --json``, ``serve``, batches and
monitoring say the same thing about the same cell."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from churnctl.errors import DataError, preview, shown

log = logging.getLogger("churnctl.data")

MISSING_HINT = "give every feature in every row; null marks a missing value"
NUMBER_HINT = "fix or blank out those cells; blank cells are read as missing"


@dataclass
class Problem:
    """One thing wrong with rows: a feature (``field``), the rows it concerns (0-based) and the
    message the CLI gives for it."""

    kind: str  # missing | not_a_number | not_a_category
    field: str
    rows: list[int]
    message: str
    hint: str | None = None


class InvalidRows(DataError):
    """Rows that break the model's schema; ``problems`` lists every one. The message is ``message``, or
    the first problem's followed by the others'."""

    def __init__(self, problems: list[Problem], message: str | None = None):
        first = problems[0]
        if message is None:
            others = sorted({p.message for p in problems[1:]} - {first.message})
            more = f"\n  and {len(others)} more problem(s): " + "; ".join(others[:5]) if others else ""
            message = first.message + more
        super().__init__(message, first.hint)
        self.problems = problems


def row_list(rows: list[int], offset: int = 0, limit: int = 5) -> str:
    """'1, 4, 7 (+2 more)': row numbers (from 1, plus ``offset``) of 0-based row indices."""
    shown = ", ".join(str(r + 1 + offset) for r in rows[:limit])
    return shown + (f" (+{len(rows) - limit} more)" if len(rows) > limit else "")


def warn_infinite(source: str, column: str, rows: list[int], offset: int = 0) -> None:
    """The warning every command gives for infinite numbers, read as missing values (``rows``: 0-based)."""
    message = "%s: column %r: %d infinite value(s) read as missing (row %s)"
    log.warning(message, source, column, len(rows), row_list(rows, offset))


def too_large(source: str, column: str, rows: list[int], example: float, offset: int = 0) -> Problem:
    """The one rule for numbers of magnitude :data:`churnctl.contract.schema.MAX_ABS_VALUE` or more, in every
    command and in ``serve``: models and statistics overflow on them (a confident probability of 1.0,
    or all zeros), so they are a data error, never scored (``rows``: 0-based)."""
    message = (
        f"{where(source)}column {column!r} has {len(rows)} value(s) too large to model (magnitude 1e150 or more, "
        f"e.g. {example:g}) in row {row_list(rows, offset)}"
    )
    hint = "rescale the column as it was at training, or blank out (null) the cells that are placeholders"
    return Problem("too_large", column, rows, message, hint)


def where(source: str) -> str:
    return f"{source}: " if source else ""


def not_a_number(source: str, column: str, rows: list[int], first: object, offset: int = 0) -> Problem:
    """Cells of a numeric column that are not numbers (``first``: the first of them, as found)."""
    first = first if isinstance(first, (str, dict, list)) else str(first)
    message = f"{where(source)}column {column!r} expects numbers, found {shown(first)} in row {row_list(rows, offset)}"
    return Problem("not_a_number", column, rows, message, NUMBER_HINT)


def not_a_category(source: str, column: str, rows: list[int], first: object, offset: int = 0) -> Problem:
    """Cells of a categorical column that are objects or lists."""
    message = (
        f"{where(source)}column {column!r} expects a category (text or number), found {shown(first)} "
        f"in row {row_list(rows, offset)}"
    )
    return Problem("not_a_category", column, rows, message)


def absent_from_rows(source: str, column: str, rows: list[int]) -> Problem:
    """A feature that JSON rows do not name (null would mark a missing value)."""
    message = f"{where(source)}feature {column!r} is absent from row {row_list(rows)}; the model needs it"
    return Problem("missing", column, rows, message, MISSING_HINT)


def lacking_columns(source: str, missing: list[str], row: int | None = None) -> str:
    """The message for feature columns a file (or, with ``row``, a JSON row) lacks."""
    what = f"{source}: row {row + 1}" if row is not None else source
    return f"{what} lacks {len(missing)} feature column(s) the model needs: {preview(missing)}"


def lacking_columns_error(source: str, missing: list[str]) -> DataError:
    hint = "add the missing columns (blank values are allowed) and run again"
    return DataError(lacking_columns(source, missing), hint=hint)
