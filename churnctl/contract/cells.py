"""Typing the cells of JSON rows without pandas, exactly as :mod:`churnctl.contract.values` types the columns
that ``pandas.DataFrame.from_records`` builds from the same rows.

Most rules are per cell (see :mod:`churnctl.contract.values`), but pandas decides a few per column, so these
functions take all the values of one column:

* numbers: ``pd.to_numeric`` reads text with fast_float (correctly rounded, like ``float``) when it
  starts with a digit, ``-`` or ``.``, and with its own ``precise_xstrtod`` otherwise (a leading
  ``+``), which keeps 17 significant digits and scales by powers of ten; both are reproduced here.
  A column whose every value is an integer is converted from the integers themselves.
* categories: ``from_records`` stores a column of integers mixed with floats or nulls as float64, so
  its integers pass through a float before they are written as text (``2**53 + 1`` in such a
  column is the category ``"9007199254740992"``).

``tests/test_rows.py`` compares both with pandas on generated values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from churnctl.contract.schema import INFINITY, label_text

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
LONG_MIN, LONG_MAX = INT64_MIN, INT64_MAX  # C long on the 64-bit platforms pandas supports
MAX_DIGITS = 17  # significant digits precise_xstrtod keeps

_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\n\v\f\r")  # C isspace in the "C" locale
_POW10 = [float(f"1e{k}") for k in range(309)]
# What fast_float accepts as a whole (pandas passes it the whole cell): no leading '+', no inf/nan.
_FAST_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = {"inf": math.inf, "infinity": math.inf}


def _strtol(text: str, p: int) -> tuple[int, int, bool]:
    """C ``strtol(text + p, &end, 10)``: (value, end, overflowed); end == p when there are no digits."""
    q, n = p, len(text)
    while q < n and text[q] in _SPACE:
        q += 1
    sign = 1
    if q < n and text[q] in "+-":
        sign = -1 if text[q] == "-" else 1
        q += 1
    start = q
    while q < n and text[q] in _DIGITS:
        q += 1
    if q == start:
        return 0, p, False
    value = sign * int(text[start:q])
    if value > LONG_MAX:
        return LONG_MAX, q, True
    if value < LONG_MIN:
        return LONG_MIN, q, True
    return value, q, False


# long: a line-for-line port of pandas' C parser, kept whole to be checked against it
def precise_xstrtod(text: str) -> tuple[float, bool] | None:
    """pandas' ``precise_xstrtod`` reading all of ``text``: (value, maybe_int), None if it fails."""
    n, p = len(text), 0
    while p < n and text[p] in _SPACE:
        p += 1
    negative = False
    if p < n and text[p] in "+-":
        negative = text[p] == "-"
        p += 1
    exponent = num_digits = num_decimals = mantissa = 0
    saw_digit, maybe_int = False, True
    while p < n and text[p] == "0":  # leading zeros do not count against the 17 digits
        saw_digit = True
        p += 1
    while p < n and text[p] in _DIGITS:
        if num_digits < MAX_DIGITS:
            mantissa = mantissa * 10 + int(text[p])
            num_digits += 1
        else:
            exponent += 1
        p += 1
    if p < n and text[p] == ".":
        maybe_int = False
        p += 1
        if num_digits == 0:
            while p < n and text[p] == "0":
                saw_digit = True
                p += 1
                num_decimals += 1
        while num_digits < MAX_DIGITS and p < n and text[p] in _DIGITS:
            mantissa = mantissa * 10 + int(text[p])
            p += 1
            num_digits += 1
            num_decimals += 1
        if num_digits >= MAX_DIGITS:
            while p < n and text[p] in _DIGITS:
                p += 1
        exponent -= num_decimals
    if num_digits == 0 and not saw_digit:
        return None
    number = -float(mantissa) if negative else float(mantissa)
    if p < n and text[p] in "eE":
        maybe_int = False
        p += 1
        value, end, overflowed = _strtol(text, p)
        total = exponent + value
        exponent = value if overflowed or not LONG_MIN <= total <= LONG_MAX else total
        p = p - 1 if end == p else end
    if exponent > 308:
        number = 0.0 if number == 0 else math.copysign(math.inf, number)
    elif exponent > 0:
        number *= _POW10[exponent]
    elif exponent < -308:
        if exponent < -616:
            number = 0.0
        else:
            number /= _POW10[-308 - exponent]
            number /= _POW10[308]
    else:
        number /= _POW10[-exponent]
    while p < n and text[p] in _SPACE:
        p += 1
    return (number, maybe_int) if p == n else None


def parse_number(text: str) -> tuple[float, bool] | None:
    """pandas' ``floatify`` of a cell: (value, maybe_int), or None when it is not a number."""
    body = text[1:] if text[:1] in ("+", "-") else text
    numeric_looking = body[:1] in _DIGITS or (body[:1] == "." and body[1:2] in _DIGITS)
    parsed: tuple[float, bool] | None
    if numeric_looking and text[0] != "+":
        parsed = (float(text), not any(c in ".eE" for c in text)) if _FAST_FLOAT.fullmatch(text) else None
    else:
        parsed = precise_xstrtod(text)
    if parsed is None:
        special = _SPECIAL.get(body.lower()) if body.isascii() else None
        if special is None:
            return None
        return (-special if text[0] == "-" else special), False
    return parsed


def infinite_value(value: object) -> bool:
    """Whether a JSON value is infinity (a float that is, or text that spells it: ``"inf"``,
    ``"-Infinity"``), as :func:`churnctl.contract.values.infinite_cells` reads it."""
    if isinstance(value, float):
        return math.isinf(value)
    return isinstance(value, str) and INFINITY.fullmatch(value.strip()) is not None


def numbers(values: Sequence[object]) -> tuple[list[float], list[bool]]:
    """(float values with NaN for missing, present-but-not-a-number flags) of one column, as
    :func:`churnctl.contract.values.to_number` gives them for a column built from these JSON values.

    (Integers beyond any float never reach it: :func:`churnctl.contract.rows.parse_json_rows` keeps them as text.)
    """
    floats: list[float] = []
    ints: list[int | None] = []
    bad: list[bool] = []
    seen_float = seen_sint = seen_uint = seen_int = False

    def saw_int(value: int) -> bool:
        """Record an integer; False when it is out of the 64-bit ranges (pandas then uses floats)."""
        nonlocal seen_sint, seen_uint, seen_int
        seen_int = True
        seen_sint = seen_sint or INT64_MIN <= value < 0
        seen_uint = seen_uint or INT64_MAX < value <= UINT64_MAX
        return INT64_MIN <= value <= UINT64_MAX and not (seen_sint and seen_uint)

    for value in values:
        number, exact, present = math.nan, None, True
        if isinstance(value, str):
            text = value.strip()
            text = {"true": "1", "false": "0"}.get(text.lower(), text)
            parsed = parse_number(text) if text else None
            seen_float = seen_float or parsed is None or not parsed[1]
            if not text:
                present = False  # a blank cell is missing
            elif parsed is not None and parsed[1]:
                try:
                    exact = int(text)
                except ValueError:  # more digits than int() converts: pandas reads the cell as missing
                    seen_float = True
                else:
                    number = parsed[0]
                    seen_float = not saw_int(exact) or seen_float
            elif parsed is not None:
                number = parsed[0]
        elif isinstance(value, bool):
            number, seen_float = float(value), True
        elif isinstance(value, int):
            number, exact = float(value), value
            seen_float = not saw_int(value) or seen_float
        elif isinstance(value, float):
            number, seen_float, present = value, True, not math.isnan(value)
        elif value is None:
            seen_float, present = True, False
        else:  # a nested object (dict or list) is never a number
            seen_float = True
        wrong = present and not math.isfinite(number)
        floats.append(math.nan if wrong else number)
        ints.append(exact)
        bad.append(wrong)
    if seen_int and not seen_float:  # pandas returns the integers themselves
        floats = [float(i) for i in ints if i is not None]
    return floats, bad


def _float64_column(values: Sequence[object]) -> bool:
    """Whether ``from_records`` stores this column as float64 (integers mixed with floats or nulls)."""
    has_int = has_float_or_null = seen_sint = seen_uint = False
    for value in values:
        if value is None or isinstance(value, float):
            has_float_or_null = True
        elif isinstance(value, int) and not isinstance(value, bool):
            if not INT64_MIN <= value <= UINT64_MAX:
                return False
            seen_sint = seen_sint or value < 0
            seen_uint = seen_uint or value > INT64_MAX
            if seen_sint and seen_uint:
                return False
            has_int = True
        else:
            return False
    return has_int and has_float_or_null


def texts(values: Sequence[object]) -> list[str | None]:
    """Canonical category text of one column (None for missing), as :func:`churnctl.contract.values.to_text`."""
    as_float = _float64_column(values)
    return [label_text(float(v) if as_float and isinstance(v, int) and not isinstance(v, bool) else v) for v in values]
