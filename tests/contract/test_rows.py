"""JSON rows typed without pandas (churnctl.contract.rows, churnctl.contract.cells) give exactly what pandas gives:
the same numbers bit for bit, the same category text, the same unseen categories and the same
error messages as features.prepare_features on pandas.DataFrame.from_records(rows)."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from churnctl.contract.cells import numbers, parse_number, texts
from churnctl.contract.frames import prepare_features
from churnctl.contract.rows import NotReproducible, type_rows
from churnctl.contract.schema import ColumnSpec, Schema
from churnctl.contract.values import to_number, to_text
from churnctl.errors import DataError

SPECIAL_INTS = [
    0,
    1,
    -1,
    7,
    2**53 + 1,
    -(2**53) - 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    10**30,
]
SPECIAL_FLOATS = [0.0, -0.0, 1.5, -2.25, 0.1, 1e300, -1e300, 1e-320, 2.0**53 + 2, math.nan, math.inf, -math.inf]
SPECIAL_TEXT = [
    "", "  ", "NA", "null", "None", "nan", "NaN", "inf", "-Infinity", "+inf", "true", " FALSE ", "True", "abc", "1e",
    "1 2", "+1e 5", "1\x00", "\t7\n", "\xa012\xa0", "1_000", "١٢", "Ａ", "0x10", "+0x10", ".", "+", "-", "e5", ".5",
    "5.", "-.5e-3", "+.5", "00012", "+00012", "1E+05", "-0", "+0", "1e400", "-1e400", "1e-400", "+1e-330", "5e-324",
    "0.1000000000000000055511151231257827", "+0.1000000000000000055511151231257827", "12345678901234567890123",
    "+12345678901234567890123", "+1234567890123456789", "18446744073709551616", "-9223372036854775809",
    "0" * 4400 + "1", "France", " Spain ", "1.0", "1", "2.50",
]  # fmt: skip


def _number_text(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
    if rng.random() < 0.6:
        cut = rng.randint(0, len(digits))
        digits = digits[:cut] + "." + digits[cut:]
    if rng.random() < 0.4:
        digits += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 330))
    return rng.choice(["", "", "-", "+"]) + digits


def json_value(rng: random.Random, nested: bool = True) -> object:
    kind = rng.random()
    if kind < 0.1:
        return None
    if kind < 0.15:
        return rng.random() < 0.5
    if kind < 0.3:
        return rng.choice(SPECIAL_INTS) if rng.random() < 0.5 else rng.randint(-1000, 1000)
    if kind < 0.45:
        return rng.choice(SPECIAL_FLOATS) if rng.random() < 0.5 else rng.gauss(0, 1e4)
    if kind < 0.65:
        return rng.choice(SPECIAL_TEXT)
    if kind < 0.97 or not nested:
        return _number_text(rng)
    return rng.choice([{"a": 1}, [1, 2], []])


def _pandas_column(values: list) -> pd.Series:
    return pd.DataFrame.from_records([{"x": v} for v in values])["x"]


def _outcome(function, *args):
    """The function's result, or (exception type, message) for the errors both paths may raise."""
    try:
        return function(*args)
    except (OverflowError, ValueError) as exc:
        return (type(exc), str(exc))


def _same_floats(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.int64), b[~nan].view(np.int64)))


def test_numbers_match_pandas_bit_for_bit():
    rng = random.Random(5)
    for _ in range(2500):
        values = [json_value(rng) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.01:
            values.append(10**400)  # too large for a float: OverflowError on both paths
        expected = _outcome(lambda column: to_number(_pandas_column(column)), values)
        got = _outcome(numbers, values)
        if isinstance(expected, tuple) and isinstance(expected[0], type):
            assert got == expected, values
            continue
        assert not (isinstance(got, tuple) and isinstance(got[0], type)), (values, got)
        assert _same_floats(got[0], expected[0]), (values, got[0], expected[0])
        assert list(got[1]) == list(expected[1]), values


@pytest.mark.parametrize("text", [*SPECIAL_TEXT, "+" + "9" * 30 + ".5e-7", "+" + "3" * 19, "-" + "7" * 40])
def test_each_special_text_parses_as_pandas_does(text):
    for values in ([text], [text, "x"], [text, 1], [text, 1.5]):
        expected_values, expected_bad = to_number(_pandas_column(values))
        got_values, got_bad = numbers(values)
        assert _same_floats(got_values, expected_values) and list(got_bad) == list(expected_bad), values


def test_a_leading_plus_uses_pandas_own_rounding():
    """pandas reads '+...' with precise_xstrtod, which is not correctly rounded: neither is this."""
    text = "+2814037838401165355157.527747"
    assert parse_number(text)[0] == to_number(_pandas_column([text, 0.5]))[0][0] != float(text)


def test_category_text_matches_pandas():
    rng = random.Random(6)
    for _ in range(2500):
        values = [json_value(rng, nested=False) for _ in range(rng.randint(1, 5))]
        expected = [None if not isinstance(v, str) else v for v in to_text(_pandas_column(values))]
        assert texts(values) == expected, values
    # integers mixed with floats or nulls pass through float64 in pandas
    assert texts([2**53 + 1, None]) == ["9007199254740992", None]
    assert texts([2**53 + 1, "a"]) == ["9007199254740993", "a"]
    assert texts([True, 1, 1.0, "1", " 1 "]) == ["True", "1", "1", "1", "1"]


SCHEMA = Schema(
    target="y",
    positive_label="1",
    negative_label="0",
    columns=[
        ColumnSpec("Age", "feature", "numeric", "number"),
        ColumnSpec("Country", "feature", "categorical", "string", categories={"France": 5, "Spain": 3, "1": 2}),
        ColumnSpec("Balance", "feature", "numeric", "number"),
        ColumnSpec("Card", "feature", "binary", "string", categories={"True": 4, "False": 4}),
        ColumnSpec("CustomerId", "identifier"),
    ],
)


def _feature_value(rng: random.Random, numeric: bool) -> object:
    if numeric and rng.random() < 0.97:
        return rng.choice(
            [None, "", " 12 ", "1e3", "+7", True, 3, 2.5, -1e300, 1e300, "NaN" if rng.random() < 0.1 else 4]
        )
    return json_value(rng)


def _typed_or_error(function, rows):
    """The function's result, or the message of the DataError it raised."""
    try:
        return function(rows)
    except DataError as exc:
        return str(exc)


def test_type_rows_matches_prepare_features():
    rng = random.Random(7)
    errors = 0
    for _ in range(1500):
        rows = [
            {spec.name: _feature_value(rng, spec.dtype == "number") for spec in SCHEMA.features}
            for _ in range(rng.randint(1, 8))
        ]
        expected = _typed_or_error(
            lambda r: prepare_features(pd.DataFrame.from_records(r), SCHEMA, source="rows.json"), rows
        )
        typed = _typed_or_error(lambda r: type_rows(r, SCHEMA, "rows.json"), rows)
        if isinstance(expected, str):
            errors += 1
            assert typed == expected, rows
            continue
        X, unseen = expected
        assert typed.unseen == unseen, rows
        for name in SCHEMA.numeric_names:
            assert _same_floats(typed.numbers[name], X[name].to_numpy(dtype=np.float64)), rows
        for name in SCHEMA.categorical_names:
            assert typed.texts[name] == [v if isinstance(v, str) else None for v in X[name]], rows
    assert 100 < errors < 1400  # both outcomes were exercised


def test_text_pandas_cannot_store_is_left_to_the_pandas_path():
    row = {"Age": 3, "Country": "Fr\ud800", "Balance": 1, "Card": "True"}
    with pytest.raises(NotReproducible):
        type_rows([row], SCHEMA)
    with pytest.raises(NotReproducible):
        type_rows([{**row, "Country": "France", "note\ud800": 1}], SCHEMA)
