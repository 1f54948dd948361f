import gzip

import numpy as np
import pandas as pd
import pytest

from churnctl.contract.rows import parse_json_rows
from churnctl.data import outputs, tables
from churnctl.errors import DataError, UsageError


def test_csv_cells_are_text_and_nulls_are_missing(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1, x \n,NA\n3,\n")
    frame = tables.read_table(path)
    assert frame["a"].tolist()[0] == "1" and pd.isna(frame["a"][1])
    assert frame["b"][0] == " x " and pd.isna(frame["b"][1]) and pd.isna(frame["b"][2])


def test_bom_and_gzip(tmp_path):
    path = tmp_path / "a.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\ufeffx,y\n1,2\n")
    assert tables.read_header(path) == ["x", "y"]
    assert tables.read_table(path)["x"].tolist() == ["1"]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"a,b,a\n1,2,3\n", "duplicate column names: 'a'"),
        (b"\n", "no header"),
        (b"a,\n1,2\n", "unnamed column"),
        (b"a,b\n1,2\n\xff\xfe\xfa,3\n", "not UTF-8"),
        (b"a,b\n1,2,3,4\n", "cannot parse"),
    ],
)
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        tables.read_table(path)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        tables.read_table(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("a")
    with pytest.raises(UsageError, match="cannot tell the format"):
        tables.read_table(tmp_path / "x.xlsx")
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet"):
        tables.read_table(tmp_path / "x.parquet")


def test_batches_cover_file_in_order(tmp_path):
    frame = pd.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    for name in ("f.csv", "f.parquet"):
        outputs.write_table(frame, tmp_path / name)
        parts = list(tables.iter_table(tmp_path / name, columns=["a"], batch_rows=300))
        assert len(parts) >= 2 and all(list(p.columns) == ["a"] for p in parts)
        assert [int(v) for p in parts for v in p["a"]] == list(range(1000))


def test_table_writer_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out.csv"

    def write_then_fail():
        with outputs.TableWriter(out) as writer:
            writer.write(pd.DataFrame({"a": [1]}))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text,rows,single", [('{"a": 1}', 1, True), ('[{"a": 1}, {"a": 2}]', 2, False)])
def test_json_rows(text, rows, single):
    parsed, was_single = parse_json_rows(text)
    assert len(parsed) == rows and was_single is single


@pytest.mark.parametrize(
    "text,message",
    [
        ("{", "not valid JSON"),
        ("[]", "empty JSON array"),
        ("[1, 2]", "array of objects"),
        ('"x"', "must be a JSON object"),
    ],
)
def test_bad_json_rows(text, message):
    with pytest.raises(DataError, match=message):
        parse_json_rows(text)


def test_numeric_columns_read_as_numbers_then_as_text_after_a_bad_cell(tmp_path):
    """Typed reading is only a shortcut: the rows, in order, are those of reading text, and a cell that
    is not a plain number (here in the reader's second block) switches the rest of the file to text."""
    n = 450_000  # about 5 MB: more than one 4 MiB block of the CSV reader
    values = (np.arange(n) * 0.5).astype(str).astype(object)
    values[10] = ""
    values[n - 5] = "forty"
    frame = pd.DataFrame({"x": values, "c": np.where(np.arange(n) % 3 == 0, "a", "b")})
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    parts = list(tables.iter_table(path, batch_rows=100_000, numeric={"x"}))
    assert str(parts[0]["x"].dtype) == "float64" and not pd.api.types.is_numeric_dtype(parts[-1]["x"])
    joined = pd.concat(parts, ignore_index=True)
    assert len(joined) == n and joined["c"].tolist() == frame["c"].tolist()
    numbers = pd.to_numeric(joined["x"], errors="coerce").to_numpy()
    expected = np.arange(n) * 0.5
    assert np.isnan(numbers[10]) and np.isnan(numbers[n - 5]) and joined["x"].iloc[n - 5] == "forty"
    keep = np.ones(n, dtype=bool)
    keep[[10, n - 5]] = False
    np.testing.assert_array_equal(numbers[keep], expected[keep])


def test_csv_output_is_the_same_table_whichever_writer_wrote_it(tmp_path):
    plain = pd.DataFrame({"id": ["a", "b"], "p": [0.5, 1e-06], "n": [1, 2], "level": ["low", None]})
    quoted = pd.DataFrame({"id": ['x,"y"', "z"], "p": [0.25, 0.75], "n": [3, 4], "level": ["high", "low"]})
    out = tmp_path / "out.csv"
    with outputs.TableWriter(out) as writer:
        writer.write(plain)  # written by Arrow
        writer.write(quoted)  # needs quoting: written by pandas
    back = pd.read_csv(out, keep_default_na=False)
    assert out.read_text().splitlines()[0] == "id,p,n,level"
    assert back["id"].tolist() == ["a", "b", 'x,"y"', "z"]
    assert back["p"].tolist() == [0.5, 1e-06, 0.25, 0.75] and back["n"].tolist() == [1, 2, 3, 4]
    assert back["level"].tolist() == ["low", "", "high", "low"]


def test_fallback_to_text_counts_rows_not_lines_and_judges_spelled_out_nan(tmp_path):
    """Blank lines and line breaks inside quoted cells before the first bad cell must not make the
    text reader repeat rows; NAN or Infinity in a numeric column are judged by the text rules."""
    n = 300_000
    lines = ["x,note"]
    for i in range(n):
        if i % 1000 == 0:
            lines.append("")  # a blank line
        note = '"a\nb"' if i % 997 == 0 else "n"
        lines.append(f"{'abc' if i == 250_000 else i},{note}")
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n")
    parts = list(tables.iter_table(path, batch_rows=50_000, numeric={"x"}))
    joined = pd.concat(parts, ignore_index=True)
    assert len(joined) == n
    numbers = pd.to_numeric(joined["x"], errors="coerce").to_numpy()
    expected = np.arange(n, dtype=float)
    expected[250_000] = np.nan
    np.testing.assert_array_equal(numbers, expected)

    spelled = tmp_path / "nan.csv"
    spelled.write_text("x\n1\nNAN\nInfinity\n")
    assert list(pd.concat(tables.iter_table(spelled, numeric={"x"}))["x"]) == ["1", "NAN", "Infinity"]


def test_a_lone_surrogate_escape_is_a_data_error_and_a_pair_is_text():
    with pytest.raises(DataError, match="surrogate"):
        parse_json_rows('{"a": "Fr\\udc80nce"}')
    rows, _ = parse_json_rows('{"a": "smile \\ud83d\\ude00"}')
    assert rows[0]["a"] == "smile \U0001f600"
    huge = parse_json_rows('{"a": 1' + "0" * 400 + ', "b": 12}')[0][0]
    assert huge["a"] == "1" + "0" * 400 and huge["b"] == 12


def test_row_estimates(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(10_000, 99_999, 30_000), "b": ["x" * (i % 7) for i in range(30_000)]})
    csv_path, parquet_path, gz_path = tmp_path / "t.csv", tmp_path / "t.parquet", tmp_path / "t.csv.gz"
    frame.to_csv(csv_path, index=False)
    frame.to_parquet(parquet_path)
    frame.to_csv(gz_path, index=False)
    assert tables.estimate_rows(parquet_path) == 30_000
    assert tables.estimate_rows(csv_path) == 30_000  # the whole file fits in the probe: counted
    estimate = tables.estimate_rows(csv_path, probe_bytes=4096)  # from the first lines' lengths
    assert estimate is not None and abs(estimate - 30_000) < 3_000
    assert tables.estimate_rows(gz_path) is None
    (tmp_path / "h.csv").write_text("a,b\n")
    (tmp_path / "n.csv").write_text("a,b\n1,2")
    assert tables.estimate_rows(tmp_path / "h.csv") == 0 and tables.estimate_rows(tmp_path / "n.csv") == 1
