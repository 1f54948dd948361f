"""The compiled scorer (model.npz) gives the scikit-learn pipeline's probabilities, and
`predict --json` with it behaves exactly as with scikit-learn, without loading scikit-learn,
SciPy, pandas or pyarrow."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from churnctl.contract.frames import prepare_features
from churnctl.contract.inference import infer_schema
from churnctl.contract.rows import type_rows
from churnctl.contract.schema import ColumnSpec, Schema
from churnctl.model.compiled.export import compile_pipeline, compiled_model_bytes
from churnctl.model.compiled.scorer import CompiledFormatError, CompiledModel
from churnctl.model.estimators import CANDIDATES, build_pipeline
from churnctl.synthetic import simulate_customers
from tests.conftest import EXAMPLE_ROW, ROOT, copy_version

HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "joblib")
FAST_HGB = {"learning_rate": 0.1, "max_iter": 60, "max_leaf_nodes": 15, "min_samples_leaf": 20}
SPLINES = {"C": 0.1, "spline_knots": 6}
KINDS = {  # the pipelines build_pipeline makes, by what they contain
    "logreg": ("logreg", CANDIDATES[0][1]),
    "spline": ("logreg", SPLINES),
    "hgb": ("hgb", FAST_HGB),
    "blend": (
        "blend",
        {"members": [{"estimator": "logreg", "params": SPLINES}, {"estimator": "hgb", "params": FAST_HGB}]},
    ),
}


# -- models trained on two kinds of data -----------------------------------------------------------


def simulated() -> tuple[Schema, pd.DataFrame]:
    inferred = infer_schema(simulate_customers(4000, seed=3), "Exited", None)
    return inferred.schema, inferred.frame


def awkward() -> tuple[Schema, pd.DataFrame]:
    """400 regions (most rare, so gradient boosting groups them), categories that are numbers,
    constant and all-missing columns of both kinds, a column with six values, missing values."""
    rng = np.random.default_rng(8)
    n = 6000
    weights = 1.0 / np.arange(1, 401) ** 1.2
    region = rng.choice([f"R{i:03d}" for i in range(400)], size=n, p=weights / weights.sum()).astype(object)
    plan = rng.choice(np.array(["basic", "plus", "pro", np.nan], dtype=object), size=n, p=[0.4, 0.3, 0.2, 0.1])
    code = rng.choice(np.array(["1", "2", "3", "2.5"], dtype=object), size=n)
    score = np.where(rng.random(n) < 0.2, np.nan, rng.normal(600, 80, n))
    amount = rng.lognormal(8, 1.5, n)
    logit = 0.01 * (np.nan_to_num(score, nan=600) - 600) + (plan == "pro") - 0.5 * (code == "3")
    logit += np.array([0.8 if r < "R020" else -0.3 for r in region])
    frame = pd.DataFrame(
        {
            "Region": region,
            "Score": score,
            "Plan": plan,
            "Flat": np.full(n, 5.0),
            "Code": code,
            "Void": np.full(n, np.nan),
            "Sparse": np.where(np.arange(n) % 1000 == 0, np.arange(n, dtype=float), np.nan),
            "Const": np.full(n, "x", dtype=object),
            "Amount": amount,
            "Empty": np.full(n, np.nan, dtype=object),
            "y": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    columns = [ColumnSpec("y", "target")]
    for name in frame.columns[:-1]:
        if name in ("Region", "Plan", "Code", "Const", "Empty"):
            counts = frame[name].dropna().value_counts()
            columns.append(ColumnSpec(name, "feature", "categorical", "string", categories=counts.to_dict()))
        else:
            columns.append(ColumnSpec(name, "feature", "numeric", "number"))
    return Schema(target="y", positive_label="1", negative_label="0", columns=columns), frame


def fitted(data: str, family: str) -> tuple[Schema, pd.DataFrame, object]:
    schema, frame = simulated() if data == "simulated" else awkward()
    if data == "awkward" and family in ("hgb", "blend"):  # scikit-learn cannot bin a column without any value
        schema.columns = [c for c in schema.columns if c.name not in ("Empty", "Void")]
    X, _ = prepare_features(frame, schema)
    pipeline = build_pipeline(schema, *KINDS[family], seed=0).fit(X, frame[schema.target].to_numpy().astype(int))
    return schema, X, pipeline


def json_rows(schema: Schema, X: pd.DataFrame, n: int, seed: int) -> list[dict]:
    """Rows as a caller sends them: training values, numbers as text, booleans, missing values in
    every spelling, unseen categories, categories given as numbers, extreme and out-of-range values."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        row: dict = {}
        for spec in schema.features:
            seen = X[spec.name].iloc[rng.randrange(len(X))]
            r = rng.random()
            if spec.dtype == "number":
                base = 0.0 if pd.isna(seen) else float(seen)
                if r < 0.55:
                    value: object = None if pd.isna(seen) else (int(base) if base.is_integer() else base)
                else:
                    value = rng.choice(
                        [None, "", "  ", float("nan"), True, False, f" {base} ", f"{base:e}", "+7", "-0", 1e149,
                         -1e149, base * 1000 + 1e6, -base - 1e6, 1e-300, 2**63, f"{int(base)}"]
                    )  # fmt: skip
            else:
                known = list(spec.categories or {}) or ["?"]
                if r < 0.5:
                    value = seen if isinstance(seen, str) else None
                elif r < 0.7:
                    value = rng.choice(known)
                else:
                    value = rng.choice(
                        [None, "", "NA", "n/a", "never seen", f"  {rng.choice(known)}  ", 1, 2, 3, 2.5, 2.0, True, 0]
                    )
            row[spec.name] = value
        rows.append(row)
    return rows


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")  # "Empty", by design
@pytest.mark.parametrize("family", list(KINDS))
@pytest.mark.parametrize("data", ["simulated", "awkward"])
def test_compiled_probabilities_equal_the_pipeline(data, family):
    schema, X, pipeline = fitted(data, family)
    if data == "awkward" and family == "hgb":
        encoder = pipeline.named_steps["features"].named_transformers_["categorical"]
        assert any(len(c) for c in encoder.infrequent_categories_ if c is not None), "no grouped categories"
    model = CompiledModel.from_bytes(compile_pipeline(pipeline, schema, X))
    rows = json_rows(schema, X, 3000, seed=len(data) * 10 + len(family))
    features, unseen = prepare_features(pd.DataFrame.from_records(rows), schema)
    expected = pipeline.predict_proba(features)[:, 1]
    typed = type_rows(rows, schema)
    got = model.predict_proba(typed.numbers, typed.texts)
    assert typed.unseen == unseen and unseen
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    finite = ~np.isnan(expected)
    assert np.max(np.abs(got[finite] - expected[finite])) <= 1e-9
    assert expected[finite].std() > 0.01  # the rows reach many different leaves and coefficients


@pytest.mark.parametrize("family", list(KINDS))
@pytest.mark.parametrize("kind", ["number", "string"])
def test_models_of_one_kind_of_feature_compile(family, kind):
    schema, frame = simulated()
    schema.columns = [c for c in schema.columns if c.role != "feature" or c.dtype == kind]
    X, _ = prepare_features(frame, schema)
    pipeline = build_pipeline(schema, *KINDS[family], seed=0).fit(X, frame[schema.target].to_numpy().astype(int))
    model = CompiledModel.from_bytes(compile_pipeline(pipeline, schema, X))
    rows = json_rows(schema, X, 500, seed=1)
    typed = type_rows(rows, schema)
    expected = pipeline.predict_proba(prepare_features(pd.DataFrame.from_records(rows), schema)[0])[:, 1]
    assert np.nanmax(np.abs(model.predict_proba(typed.numbers, typed.texts) - expected)) <= 1e-9


def test_a_pipeline_the_compiler_does_not_know_is_not_compiled(caplog):
    from sklearn.tree import DecisionTreeClassifier

    schema, X, pipeline = fitted("simulated", "logreg")
    pipeline.steps[-1] = ("model", DecisionTreeClassifier(max_depth=3, random_state=0))
    pipeline.fit(X, np.arange(len(X)) % 2)
    with caplog.at_level("INFO", logger="churnctl"):
        assert compiled_model_bytes(pipeline, schema, X) is None
    assert [r.getMessage() for r in caplog.records] == [
        "no compiled scorer for this model (predict --json will use scikit-learn): "
        "no compiled form for DecisionTreeClassifier"
    ]


# -- the command --------------------------------------------------------------------------------


def test_a_trained_version_holds_a_signed_compiled_model(artifacts):
    manifest = json.loads((artifacts / "models" / "v0001" / "manifest.json").read_text())
    assert "model.npz" in manifest["files"]
    with np.load(artifacts / "models" / "v0001" / "model.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert all(a.dtype != object for a in arrays.values())
    assert json.loads(arrays["meta"].tobytes())["family"] == "hgb"


def _inputs(schema_rows: list[dict]) -> list[str]:
    """JSON documents for predict --json: good and bad, one object and arrays."""
    good = [dict(EXAMPLE_ROW, CustomerId=15000000 + i, **r) for i, r in enumerate(schema_rows)]
    return [
        json.dumps(EXAMPLE_ROW),
        json.dumps(good),
        json.dumps([EXAMPLE_ROW, dict(EXAMPLE_ROW, CustomerId="A-1", Note={"any": "thing"})]),
        json.dumps(dict(EXAMPLE_ROW, Geography="Atlantis", Gender=None, Age="  41 ", Balance="")),
        json.dumps([dict(EXAMPLE_ROW, Age="abc"), dict(EXAMPLE_ROW, Age="old")]),
        json.dumps(dict(EXAMPLE_ROW, Age=float("inf")), allow_nan=True),
        json.dumps([dict(EXAMPLE_ROW, Geography={"a": 1})]),
        json.dumps([EXAMPLE_ROW, {k: v for k, v in EXAMPLE_ROW.items() if k != "Age"}]),
        json.dumps(dict.fromkeys(EXAMPLE_ROW)),
        json.dumps([dict(EXAMPLE_ROW, Tenure=True, HasCrCard="true", NumOfProducts="+2", Age=1e300)]),
        "[]",
        "{not json",
    ]


def test_compiled_and_scikit_learn_paths_answer_alike(cli, artifacts):
    """Same stdout, stderr and exit code from v0001 (compiled) and its copy without model.npz."""
    copy_version(artifacts, "v0002")
    rng = random.Random(3)
    variants = [
        {
            "Geography": rng.choice(["France", "Spain", "Germany", " Spain ", "Italy", None, 1]),
            "Age": rng.randint(18, 90),
        }
        for _ in range(40)
    ]
    for document in _inputs(variants):
        runs = [
            cli("--artifacts", artifacts, "predict", "--json", "-", "--model", version, stdin=document)
            for version in ("v0001", "v0002")
        ]
        compiled, reference = runs
        assert compiled.code == reference.code, document
        assert compiled.stdout.replace("v0001", "v0002") == reference.stdout, document
        assert compiled.stderr.replace("v0001", "v0002") == reference.stderr, document
    text = cli("--artifacts", artifacts, "predict", "--json", "-", "--format", "text", stdin=json.dumps([EXAMPLE_ROW]))
    assert text.code == 0 and "Predictions of model v0001" in text.stdout


def test_a_version_without_compiled_model_is_scored_by_scikit_learn(cli, artifacts, tmp_path):
    copy_version(artifacts, "v0002")
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    run = cli("-v", "--artifacts", artifacts, "predict", "--json", row, "--model", "v2")
    assert run.code == 0 and run.json()["model_version"] == "v0002"
    assert "model v0002 has no compiled scorer (model.npz): scoring with scikit-learn" in run.stderr
    assert "no compiled scorer" not in cli("--artifacts", artifacts, "predict", "--json", row, "--model", "v2").stderr


def test_an_unsupported_pipeline_trains_without_compiled_model(cli, artifacts, fast_config, monkeypatch, tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    from churnctl.model import estimators

    original = estimators.build_pipeline

    def with_a_tree(*args, **kwargs):
        pipeline = original(*args, **kwargs)
        pipeline.steps[-1] = ("model", DecisionTreeClassifier(max_depth=4, random_state=0))
        return pipeline

    monkeypatch.setattr(estimators, "build_pipeline", with_a_tree)
    run = cli("--artifacts", artifacts, "--config", fast_config, "train", "--model", "logreg", "--promote")
    assert run.code == 0
    assert "no compiled scorer for this model (predict --json will use scikit-learn)" in run.stderr
    manifest = json.loads((artifacts / "models" / "v0002" / "manifest.json").read_text())
    assert "model.npz" not in manifest["files"] and "model.joblib" in manifest["files"]
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    scored = cli("-v", "--artifacts", artifacts, "predict", "--json", row)
    assert scored.code == 0 and scored.json()["model_version"] == "v0002" and "no compiled scorer" in scored.stderr


@pytest.mark.parametrize("damage", ["bytes", "mode", "missing"])
def test_a_damaged_compiled_model_is_refused(cli, artifacts, tmp_path, damage):
    npz = artifacts / "models" / "v0001" / "model.npz"
    if damage == "bytes":
        data = npz.read_bytes()
        npz.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "mode":
        npz.chmod(0o666)
    else:
        npz.unlink()
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4, run.stderr
    expected = {
        "bytes": "model.npz was modified after it was written",
        "mode": "lets other accounts change it",
        "missing": "model.npz",
    }[damage]
    assert expected in run.stderr
    if damage != "mode":  # verify checks contents; modes are checked when a file is loaded
        assert cli("--artifacts", artifacts, "models", "verify").code == 4


def test_the_compiled_model_is_read_without_pickle(cli, artifacts, tmp_path, monkeypatch):
    calls = []
    real = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 0
    assert calls == [{"allow_pickle": False}]
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array([{"a": 1}], dtype=object))  # a pickled array is never loaded
    with pytest.raises(CompiledFormatError, match="allow_pickle"):
        CompiledModel.from_bytes(buffer.getvalue())


def test_predict_json_loads_no_scikit_learn_scipy_pandas_or_pyarrow(artifacts, tmp_path):
    row = tmp_path / "row.json"
    row.write_text(json.dumps([EXAMPLE_ROW, dict(EXAMPLE_ROW, Geography="Atlantis")]))
    modules = tmp_path / "modules.json"
    wrapper = (
        "import json, sys\nfrom churnctl.cli.app import main\n"
        "try:\n    main(sys.argv[2:])\nexcept SystemExit as exc:\n    code = exc.code\n"
        "open(sys.argv[1], 'w').write(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", wrapper, modules, "--artifacts", artifacts, "predict", "--json", row],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    loaded = json.loads(modules.read_text())
    assert loaded["code"] in (0, None) and len(json.loads(run.stdout)) == 2 and "Atlantis" in run.stderr
    assert sorted({m.split(".")[0] for m in loaded["modules"]} & set(HEAVY)) == []
    assert "churnctl.model.compiled.scorer" in loaded["modules"] and "churnctl.contract.frames" not in loaded["modules"]


@pytest.mark.parametrize("column,code", [("Age", 3), ("Geography", 0)])
def test_integers_no_float_can_hold_are_data_errors_or_categories(cli, artifacts, tmp_path, column, code):
    """A numeric cell of 400 digits is not a number the model can take (exit 3, naming the column), a
    category of 400 digits is an unseen category; on the compiled path and the scikit-learn path alike."""
    copy_version(artifacts, "v0002")  # no compiled model: the scikit-learn path
    text = json.dumps({**EXAMPLE_ROW, column: 0}).replace(f'"{column}": 0', f'"{column}": 1{"0" * 400}')
    row = tmp_path / "huge.json"
    row.write_text(text)
    for version in ("v0001", "v0002"):
        run = cli("--artifacts", artifacts, "predict", "--json", row, "--model", version)
        assert run.code == code, (version, run.stderr)
        if code:
            assert f"column {column!r} expects numbers" in run.stderr and "Traceback" not in run.stderr
        else:
            assert "never seen in training" in run.stderr


@pytest.mark.parametrize(
    "knots",
    [
        pytest.param(np.linspace(-3.0, 4.0, 11), id="uniform"),
        pytest.param(np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3], dtype=float), id="repeated"),
        pytest.param(np.array([-2, -1, 0, 0, 0, 0.5, 4, 5, 6], dtype=float), id="repeated-inside"),
    ],
)
def test_the_spline_basis_is_scipys(knots):
    """The scorer's de Boor recursion against SciPy's B-spline design matrix, knots and ends included."""
    from scipy.interpolate import BSpline

    from churnctl.model.compiled.scorer import _bspline_basis

    k = 3
    n = len(knots) - k - 1
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(knots[k], knots[n], 500), knots[k : n + 1]])
    expected = BSpline.design_matrix(x, knots, k).toarray()
    got = _bspline_basis(x, knots, k, np.full(k, 7.0), np.full(k, 9.0))
    assert np.max(np.abs(got - expected)) <= 1e-12
    outside = _bspline_basis(np.array([knots[k] - 1, knots[n] + 1]), knots, k, np.full(k, 7.0), np.full(k, 9.0))
    assert outside[0].tolist() == [7.0] * k + [0.0] * (n - k) and outside[1].tolist() == [0.0] * (n - k) + [9.0] * k


def test_a_blend_file_with_odd_members_is_a_format_error():
    schema, X, pipeline = fitted("simulated", "blend")
    arrays = dict(np.load(io.BytesIO(compile_pipeline(pipeline, schema, X)), allow_pickle=False))
    meta = json.loads(arrays["meta"].tobytes())

    def load(changed: dict) -> None:
        arrays["meta"] = np.frombuffer(json.dumps(changed).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        CompiledModel.from_bytes(buffer.getvalue())

    load(meta)  # as written: loads
    renamed = json.loads(json.dumps(meta))
    renamed["members"][0]["numeric"][0] = "Renamed"
    for odd in ({**meta, "members": [1]}, {**meta, "members": "ab"}, {**meta, "members": []}, renamed):
        with pytest.raises(CompiledFormatError):
            load(odd)
