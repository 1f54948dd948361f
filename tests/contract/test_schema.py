import numpy as np
import pandas as pd
import pytest

from churnctl.contract.frames import encode_target, prepare_features
from churnctl.contract.inference import infer_schema
from churnctl.contract.labels import resolve_positive
from churnctl.contract.values import label_text, to_number
from churnctl.errors import DataError, UsageError


def text_frame(data: dict) -> pd.DataFrame:
    """Like a CSV read: every cell text, missing as None."""
    return pd.DataFrame(
        {k: pd.array([None if v is None else str(v) for v in vals], dtype="string") for k, vals in data.items()}
    )


def base(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "customerID": [f"C{i:05d}" for i in range(n)],
        "RowNumber": list(range(1, n + 1)),
        "tenure": rng.integers(0, 70, n).tolist(),
        "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n).tolist(),
        "Churn": (["Yes", "No"] * n)[:n],
    }


def test_identifiers_free_text_and_roles():
    data = base()
    data["Surname"] = [f"name{i % 50}" for i in range(60)]  # 50 distinct in 60 rows: free text
    data["Constant"] = ["x"] * 60
    inferred = infer_schema(text_frame(data), "Churn", None)
    roles = {c.name: (c.role, c.kind) for c in inferred.schema.columns}
    assert roles["customerID"][0] == "identifier"
    assert roles["RowNumber"][0] == "identifier"
    assert roles["Surname"][0] == "ignored"
    assert roles["Constant"][0] == "ignored"
    assert roles["tenure"] == ("feature", "numeric")
    assert roles["Contract"] == ("feature", "categorical")
    assert roles["Churn"] == ("target", "binary")
    assert inferred.schema.id_column == "customerID"
    assert inferred.schema.positive_label == "Yes"
    assert inferred.frame["Churn"].tolist() == [1, 0] * 30


def test_blank_numeric_cells_are_missing_not_text():
    data = base()
    data["TotalCharges"] = [" ", "29.85", "", None] + [str(i * 1.5) for i in range(56)]
    inferred = infer_schema(text_frame(data), "Churn", None)
    spec = inferred.schema.column("TotalCharges")
    assert spec.dtype == "number" and spec.kind == "numeric"
    assert spec.missing_rate == pytest.approx(3 / 60)
    assert np.isnan(inferred.frame["TotalCharges"][:1]).all()


@pytest.mark.parametrize(
    "values,positive,expected",
    [
        (["1", "0"], None, "1"),
        (["Yes", "No"], None, "Yes"),
        (["True", "False"], None, "True"),
        (["churned", "stayed"], None, "churned"),
        (["No", "Yes"], "yes", "Yes"),
        (["A", "B"], "B", "B"),
        (["Attrited Customer", "Existing Customer"], None, "Attrited Customer"),
    ],
)
def test_positive_label(values, positive, expected):
    pos, neg = resolve_positive(sorted(values), positive, "t")
    assert pos == expected and neg != pos


@pytest.mark.parametrize(
    "values,positive,message",
    [
        (["A", "B"], None, "cannot tell"),
        (["Yes"], None, "only one class"),
        (["a", "b", "c"], None, "3 distinct"),
        (["Yes", "No"], "maybe", "not a value"),
    ],
)
def test_positive_label_errors(values, positive, message):
    with pytest.raises(DataError, match=message):
        resolve_positive(values, positive, "t")


def test_target_errors():
    data = base()
    with pytest.raises(DataError, match="not in the data"):
        infer_schema(text_frame(data), "Exited", None)
    data["Churn"] = ["Yes"] * 60
    with pytest.raises(DataError, match="only one class"):
        infer_schema(text_frame(data), "Churn", None)
    with pytest.raises(UsageError, match="no target column given"):
        infer_schema(text_frame({"a": ["1", "2"], "b": ["x", "y"]}), None, None)


def test_target_is_guessed_when_unambiguous():
    inferred = infer_schema(text_frame(base()), None, None)
    assert inferred.schema.target == "Churn"


def test_no_usable_feature():
    data = {"id": [str(i) for i in range(30)], "Churn": ["Yes", "No"] * 15}
    with pytest.raises(DataError, match="no usable feature"):
        infer_schema(text_frame(data), "Churn", None)


def test_rows_without_label_are_dropped():
    data = base()
    data["Churn"][0] = None
    inferred = infer_schema(text_frame(data), "Churn", None)
    assert inferred.n_unlabelled == 1 and len(inferred.frame) == 59


def test_to_number_rules():
    values, bad = to_number(pd.Series(["1", " 2.5 ", "", "true", "FALSE", "abc", "inf", None], dtype="string"))
    assert values[:2].tolist() == [1.0, 2.5] and np.isnan(values[2]) and values[3:5].tolist() == [1.0, 0.0]
    assert bad.tolist() == [False, False, False, False, False, True, True, False]
    values, bad = to_number(pd.Series([1, "2", True, None, {"a": 1}], dtype=object))
    assert values[:3].tolist() == [1.0, 2.0, 1.0] and bad.tolist() == [False, False, False, False, True]


def test_label_text_canonical():
    assert [label_text(v) for v in (1, 1.0, "1", " Yes ", True, np.nan, None, 2.5)] == [
        "1",
        "1",
        "1",
        "Yes",
        "True",
        None,
        None,
        "2.5",
    ]


def test_prepare_features_reports_problems():
    inferred = infer_schema(text_frame(base()), "Churn", None)
    schema = inferred.schema
    frame = pd.DataFrame({"tenure": [1, "x", 3], "Contract": ["One year", "Lifetime", None], "extra": [1, 2, 3]})
    with pytest.raises(DataError, match=r"'tenure' expects numbers, found 'x' in row 2"):
        prepare_features(frame, schema)
    frame["tenure"] = [1, None, 3]
    X, unseen = prepare_features(frame, schema)
    assert list(X.columns) == ["tenure", "Contract"]
    assert unseen == {"Contract": {"Lifetime": 1}}
    with pytest.raises(DataError, match=r"lacks 1 feature column.*'Contract'"):
        prepare_features(frame.drop(columns="Contract"), schema)


def test_encode_target_uses_recorded_labels():
    schema = infer_schema(text_frame(base()), "Churn", None).schema
    y, present = encode_target(pd.Series(["Yes", "No", None]), schema)
    assert y.tolist() == [1, 0, 0] and present.tolist() == [True, True, False]
    with pytest.raises(DataError, match="does not know"):
        encode_target(pd.Series(["Yes", "Maybe"]), schema)


def test_a_few_bad_cells_keep_a_column_numeric_and_are_reported():
    data = base()
    data["tenure"][3] = "n/a?"
    data["Balance"] = [str(i * 10.5) for i in range(59)] + ["inf"]
    inferred = infer_schema(text_frame(data), "Churn", None)
    assert inferred.schema.column("tenure").kind == "numeric"
    assert inferred.schema.column("Balance").kind == "numeric"
    assert np.isnan(inferred.frame["tenure"][3]) and np.isnan(inferred.frame["Balance"][59])
    assert any("'tenure'" in w and "n/a?" in w and "row 4" in w for w in inferred.warnings)


def test_datetime_columns_are_not_features():
    data = pd.DataFrame(
        {
            "signup": pd.date_range("2024-01-01", periods=40),
            "x": [i % 7 for i in range(40)],
            "Churn": ["Yes", "No"] * 20,
        }
    )
    schema = infer_schema(data, "Churn", None).schema
    assert schema.column("signup").role == "ignored" and "date" in schema.column("signup").reason


@pytest.mark.parametrize(
    "series",
    [
        pd.Series(np.random.default_rng(0).integers(0, 2, 5000)),
        pd.Series([1.0, 0.0, np.nan, 1.0, 0.0] * 40),
        pd.Series(["1.0", "0", None, " yes ", "1", "Yes"] * 40),
        pd.Series([True, False, None] * 40, dtype=object),
        pd.Series([1, 0, None] * 40, dtype="Int64"),
        pd.Series([np.nan] * 10),
        pd.Series(["a", "b", "c"]),  # many distinct values for its length: converted cell by cell
        pd.Series([[1], [0]] * 20),  # cells that cannot be hashed: converted cell by cell
        pd.Series([np.array([1]), np.array([0])] * 20),  # as a Parquet list column reads
    ],
)
def test_labels_converted_once_per_distinct_value_match_cell_by_cell(series):
    from churnctl.contract.values import _each_label, to_label

    fast, slow = to_label(series), _each_label(series)
    assert fast.index.equals(series.index)
    assert fast.isna().tolist() == slow.isna().tolist()
    assert fast[fast.notna()].tolist() == slow[slow.notna()].tolist()
