"""JSON rows for ``predict --json``, without pandas: reading and parsing the input, checking each row
against the model's schema and typing the features, with the same rules and the same error
messages as :func:`churnctl.contract.frames.prepare_features` applied to
``pandas.DataFrame.from_records(rows)`` (see :mod:`churnctl.contract.cells` for the details pandas decides
per column)."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from churnctl.contract.cells import infinite_value, numbers, texts
from churnctl.contract.problems import (
    InvalidRows,
    Problem,
    absent_from_rows,
    lacking_columns,
    not_a_category,
    not_a_number,
    too_large,
    warn_infinite,
)
from churnctl.contract.schema import MAX_ABS_VALUE, Schema
from churnctl.errors import DataError, shown

log = logging.getLogger(__name__)


class NotReproducible(Exception):
    """Rows that only the pandas path handles the way it always has (pandas cannot store them)."""


def read_json_input(source: str) -> tuple[str, str]:
    """(text, name for messages) of a JSON input: a file, or standard input for ``-``. It must be
    UTF-8 (a byte-order mark is allowed, as in CSV files)."""
    if source == "-":
        stream = getattr(sys.stdin, "buffer", None)  # bytes, to check the encoding; a text stream in tests
        data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogatepass")
        name = "stdin"
    else:
        path = Path(source)
        if not path.exists() or path.is_dir():  # a named pipe is read once, like standard input
            what = "is a directory" if path.is_dir() else "does not exist"
            raise DataError(f"JSON file {path} {what}", hint="check the path, or use '-' for stdin")
        try:
            data, name = path.read_bytes(), str(path)
        except OSError as exc:
            raise DataError(
                f"cannot read {path}: {exc.strerror or exc}", hint="check the file and its permissions"
            ) from None
    if not data.strip():
        raise DataError(
            f"{name} is empty: no JSON was given" if name != "stdin" else "standard input is empty: no JSON was given",
            hint="give one JSON object, an array of objects, or JSON Lines",
        )
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name} is not UTF-8 text (byte {exc.start + 1})",
            hint="re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None


def read_rows(source: str) -> tuple[list[dict], bool, str]:
    """(rows, was one object, name for messages) of a JSON file, or of standard input for ``-``."""
    text, name = read_json_input(source)
    rows, single = parse_json_rows(text, name)
    return rows, single, name


def _json_float(text: str) -> float | str:
    """A JSON number with a fraction or exponent; one beyond any float ("1e400") stays text, so that a
    numeric column rejects it as it rejects the same cell in a CSV file."""
    value = float(text)
    return value if math.isfinite(value) else text


def _json_int(digits: str) -> int | str:
    """A JSON integer; one with more digits than any float can hold stays text, so that a numeric
    column rejects it like any other cell that is not a number, and a category reads it as written."""
    return digits if len(digits.lstrip("-")) > 308 else int(digits)


def _json_constant(text: str) -> str | None:
    """``NaN``, ``Infinity`` and ``-Infinity``, which JSON does not have but Python's reader accepts: NaN
    is a missing value (null), the infinities are the text a CSV cell would hold (in a numeric column,
    an infinite number read as missing, with a warning). Either way, what is echoed back is valid JSON."""
    return None if text == "NaN" else text


def _json_line(line: str, number: int, source: str) -> dict:
    try:
        doc = json.loads(line, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source} line {number} is not valid JSON: {exc.msg} at column {exc.colno}",
            hint="JSON Lines input holds one JSON object per line",
        ) from None
    except (ValueError, RecursionError):
        raise DataError(
            f"{source} line {number} cannot be read as a row", hint="one flat JSON object per line"
        ) from None
    if not isinstance(doc, dict):
        raise DataError(f"{source} line {number} is a {type(doc).__name__}, expected a JSON object")
    return doc


def parse_json_rows(text: str, source: str = "input") -> tuple[list[dict], bool]:
    """Rows from a JSON object, an array of objects, or JSON Lines (one object per line); returns
    (rows, was_single_object)."""
    try:
        doc = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        lines = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
        if exc.msg == "Extra data" and len(lines) > 1:  # JSON Lines: one object per line
            return [_json_line(line, number, source) for number, line in lines], False
        raise DataError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint="expected one JSON object or an array of objects",
        ) from None
    except (ValueError, RecursionError) as exc:  # absurd nesting, or what else json refuses
        raise DataError(
            f"{source} cannot be read as rows: {str(exc)[:120] or 'nested too deeply'}",
            hint="expected one JSON object or an array of flat objects of numbers and text",
        ) from None
    if "\\ud" in text.lower():  # escaped UTF-16 surrogates: only a valid pair is text
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(
                f"{source} holds a \\u escape that is half of a UTF-16 surrogate pair, not a character",
                hint="write the character itself, or its complete surrogate pair",
            ) from None
    if isinstance(doc, dict):
        return [doc], True
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return doc, False
    if isinstance(doc, list) and not doc:
        raise DataError(f"{source} is an empty JSON array", hint="give at least one row object")
    raise DataError(
        f"{source} must be a JSON object or an array of objects, found {type(doc).__name__}"
        + (" elements" if isinstance(doc, list) else "")
    )


def missing_features(rows: list[dict], schema: Schema, source: str) -> list[Problem]:
    """A problem per feature that rows lack (null marks a missing value; absent is an error), naming them."""
    problems = []
    for name in schema.feature_names:
        lacking = [i for i, row in enumerate(rows) if name not in row]
        if lacking:
            problems.append(absent_from_rows(source, name, lacking))
    return problems


def require_features(rows: list[dict], schema: Schema, source: str) -> None:
    """Every row must name every feature (null marks a missing value)."""
    problems = missing_features(rows, schema, source)
    if problems:
        row = min(p.rows[0] for p in problems)
        absent = [n for n in schema.feature_names if n not in rows[row]]
        raise InvalidRows(problems, lacking_columns(source, absent, row))


@dataclass
class TypedRows:
    """Features of JSON rows as the model takes them."""

    numbers: dict[str, list[float]]  # NaN for missing
    texts: dict[str, list[str | None]]  # canonical category text, None for missing
    unseen: dict[str, dict[str, int]]  # {column: {category never seen in training: rows}}


def _check_storable(rows: list[dict]) -> None:
    """pandas stores text columns as UTF-8 (Arrow): text it cannot encode stays on its path."""
    for row in rows:
        for key, value in row.items():
            for text in (key, value):
                if isinstance(text, str) and not text.isascii():
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError:
                        raise NotReproducible("text that is not valid Unicode") from None


def type_rows(rows: list[dict], schema: Schema, source: str = "input") -> TypedRows:
    """Type the features of ``rows`` (each has every feature) as :func:`prepare_features` does.

    Raises :class:`InvalidRows` naming each column with values of the wrong type or too large to model
    (:func:`too_large`) and their rows, and :class:`NotReproducible` for rows only the pandas path
    reproduces.
    """
    _check_storable(rows)
    typed = TypedRows({}, {}, {})
    problems: list[Problem] = []
    for spec in schema.features:
        values = [row[spec.name] for row in rows]
        if spec.dtype == "number":
            floats, bad = numbers(values)
            infinite = [b and infinite_value(v) for v, b in zip(values, bad, strict=True)]
            if any(infinite):  # as prepare_features: a missing value, with a warning
                warn_infinite(source, spec.name, [i for i, f in enumerate(infinite) if f])
                bad = [b and not f for b, f in zip(bad, infinite, strict=True)]
            if any(bad):
                wrong = [i for i, b in enumerate(bad) if b]
                problems.append(not_a_number(source, spec.name, wrong, values[wrong[0]]))
            huge = [i for i, f in enumerate(floats) if abs(f) >= MAX_ABS_VALUE]
            if huge:
                problems.append(too_large(source, spec.name, huge, floats[huge[0]]))
            typed.numbers[spec.name] = floats
        else:
            nested = [i for i, v in enumerate(values) if isinstance(v, (dict, list))]
            if nested:
                problems.append(not_a_category(source, spec.name, nested, values[nested[0]]))
                continue
            text = texts(values)
            known = spec.categories or {}
            new = Counter(t for t in text if t is not None and t not in known)
            if new:
                typed.unseen[spec.name] = dict(new)
            typed.texts[spec.name] = text
    if problems:
        raise InvalidRows(problems)
    return typed


def unseen_warnings(unseen: dict[str, dict[str, int]], source: str = "input") -> list[str]:
    messages = []
    for column, counts in sorted(unseen.items()):
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"{shown(v)} ({c} row{'s' if c > 1 else ''})" for v, c in ordered[:5])
        more = f" (+{len(ordered) - 5} more)" if len(ordered) > 5 else ""
        messages.append(
            f"{source}: column {column!r} has categories never seen in training: {listed}{more}; scored as unknown"
        )
    return messages
