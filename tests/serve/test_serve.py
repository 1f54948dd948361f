"""churnctl serve through FastAPI's TestClient: the answers of predict --json, every refusal (422, 413,
401, 503) without internals, /model, /metrics, the OpenAPI description, hot reload and the prediction
log. The real server (uvicorn, under load) is in tests/serve/test_serve_live.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="churnctl serve needs the serve extra")

from fastapi.testclient import TestClient

from churnctl.serve.app import create_app
from churnctl.serve.options import ServeOptions
from tests.conftest import EXAMPLE_ROW, copy_version


def serve(artifacts: Path, **options) -> TestClient:
    return TestClient(create_app(ServeOptions(artifacts=str(artifacts), reload_seconds=0.1, **options)))


@pytest.fixture
def client(artifacts):
    with serve(artifacts) as test_client:
        yield test_client


def cli_json(cli, artifacts: Path, tmp_path: Path, rows, *extra: str):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    run = cli("--artifacts", artifacts, "predict", "--json", path, *extra)
    assert run.code == 0, run.stderr
    return run.json()


def test_the_original_example_request_answers_every_field_as_predict_json(client, cli, artifacts, tmp_path):
    answer = client.post("/predict", json=EXAMPLE_ROW)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"churn_probability", "churn_label", "risk_level", "confidence", "model_version"}
    assert body == cli_json(cli, artifacts, tmp_path, EXAMPLE_ROW)
    assert answer.headers["x-churnctl-model-version"] == body["model_version"] == "v0001"
    many = [EXAMPLE_ROW, {**EXAMPLE_ROW, "Age": 61, "NumOfProducts": 3, "CustomerId": 7}]
    listed = client.post("/predict", json=many).json()
    assert isinstance(listed, list) and listed == cli_json(cli, artifacts, tmp_path, many)
    assert listed[1]["CustomerId"] == 7  # identifiers come back as sent


def test_explain_gives_the_reasons_of_predict_json_explain(client, cli, artifacts, tmp_path):
    row = {**EXAMPLE_ROW, "Age": 58, "IsActiveMember": 0}
    body = client.post("/predict?explain=true", json=row).json()
    assert body == cli_json(cli, artifacts, tmp_path, row, "--explain")
    assert 1 <= len(body["reasons"]) <= 3 and body["reasons"][0]["feature"] in EXAMPLE_ROW


def test_long_lists_unseen_categories_and_nulls_are_scored_like_the_cli(client, cli, artifacts, tmp_path):
    rows = [{**EXAMPLE_ROW, "Age": 18 + i % 60, "Balance": None if i % 7 == 0 else 1000.0 * i} for i in range(100)]
    rows[3]["Geography"] = "Atlantis"
    answer = client.post("/predict", json=rows)
    assert answer.status_code == 200 and answer.json() == cli_json(cli, artifacts, tmp_path, rows)
    assert "Atlantis" in json.loads(answer.headers["x-churnctl-warnings"])[0]


@pytest.mark.parametrize(
    "body, problems",
    [
        (
            {k: v for k, v in EXAMPLE_ROW.items() if k not in ("Age", "Tenure")},
            [(["body", "Age"], "request: feature 'Age' is absent from row 1; the model needs it", "missing")],
        ),
        (
            {**EXAMPLE_ROW, "Age": "abc", "Geography": {"name": "France"}},
            [
                (
                    ["body", "Geography"],
                    "request: column 'Geography' expects a category (text or number), found "
                    "{'name': 'France'} in row 1",
                    "not_a_category",
                ),
                (["body", "Age"], "request: column 'Age' expects numbers, found 'abc' in row 1", "not_a_number"),
            ],
        ),
        (
            [EXAMPLE_ROW, {**EXAMPLE_ROW, "Balance": [1]}, {k: v for k, v in EXAMPLE_ROW.items() if k != "Gender"}],
            [
                (
                    ["body", 2, "Gender"],
                    "request: feature 'Gender' is absent from row 3; the model needs it",
                    "missing",
                ),
                (
                    ["body", 1, "Balance"],
                    "request: column 'Balance' expects numbers, found [1] in row 2",
                    "not_a_number",
                ),
            ],
        ),
    ],
)
def test_invalid_rows_get_422_naming_each_field_and_problem_in_the_cli_words(client, body, problems):
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    found = [(d["loc"], d["msg"], d["type"]) for d in detail]
    for problem in problems:
        assert tuple(problem) in [tuple(f) for f in found], found
    if not isinstance(body, list):
        missing = {d["loc"][-1] for d in detail if d["type"] == "missing"}
        assert missing == {k for k in EXAMPLE_ROW if k not in body}


def test_the_cli_gives_the_same_words_for_the_same_problem(client, cli, artifacts, tmp_path):
    row = {**EXAMPLE_ROW, "Age": "abc"}
    msg = client.post("/predict", json=row).json()["detail"][0]["msg"]
    path = tmp_path / "request"
    path.write_text(json.dumps(row))
    run = cli("--artifacts", artifacts, "predict", "--json", path)
    assert run.code == 3 and msg.replace("request:", f"{path}:") in run.stderr


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "body is empty"),
        (b"{not json", "request is not valid JSON"),
        (b"[]", "empty JSON array"),
        (b"[1, 2]", "must be a JSON object or an array of objects"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "cannot be read as rows"),
    ],
)
def test_bodies_that_are_not_rows_get_422_without_internals(client, content, words):
    answer = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    text = answer.text
    assert words in text and "Traceback" not in text and "churnctl/" not in text and ".py" not in text


def test_bodies_over_the_limit_get_413_with_or_without_a_length(artifacts):
    with serve(artifacts, max_body_bytes=2048) as small:
        big = [EXAMPLE_ROW] * 40
        assert small.post("/predict", json=big).status_code == 413
        chunks = (json.dumps(big)[i : i + 500].encode() for i in range(0, len(json.dumps(big)), 500))
        answer = small.post("/predict", content=chunks)  # chunked: no Content-Length
        assert answer.status_code == 413 and "2048 bytes" in answer.json()["detail"]
        assert small.post("/predict", json=[EXAMPLE_ROW] * 5).status_code == 200
        errors = [line for line in small.get("/metrics").text.splitlines() if 'kind="too_large"' in line]
        assert errors and float(errors[0].split()[-1]) == 2


def test_an_api_key_guards_everything_but_health(artifacts, monkeypatch):
    monkeypatch.setenv("CHURNCTL_API_KEY", "s3cret-key")
    with serve(artifacts) as guarded:
        assert guarded.get("/health").status_code == 200
        for method, path in (("post", "/predict"), ("get", "/model"), ("get", "/metrics"), ("get", "/openapi.json")):
            answer = getattr(guarded, method)(path, **({"json": EXAMPLE_ROW} if method == "post" else {}))
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"].startswith("Bearer")
        assert guarded.post("/predict", json=EXAMPLE_ROW, headers={"X-API-Key": "wrong"}).status_code == 401
        assert guarded.post("/predict", json=EXAMPLE_ROW, headers={"X-API-Key": "s3cret-key"}).status_code == 200
        bearer = {"Authorization": "Bearer s3cret-key"}
        assert guarded.post("/predict", json=EXAMPLE_ROW, headers=bearer).status_code == 200
        schemes = guarded.get("/openapi.json", headers=bearer).json()["components"]["securitySchemes"]
        assert set(schemes) == {"ApiKey", "Bearer"}


def test_without_a_model_health_and_predict_are_503(tmp_path):
    (tmp_path / "empty").mkdir()
    with serve(tmp_path / "empty") as bare:
        health = bare.get("/health")
        assert health.status_code == 503 and health.json()["detail"] == "no model is loaded"
        assert str(tmp_path) not in health.text  # no path for whoever asks /health
        assert "no current model" in bare.get("/model").json()["detail"]
        assert bare.post("/predict", json=EXAMPLE_ROW).status_code == 503
        assert bare.get("/docs").status_code == 200


def test_model_describes_version_metrics_and_schema(client, artifacts):
    document = client.get("/model").json()
    manifest = json.loads((artifacts / "models" / "v0001" / "manifest.json").read_text())
    assert document["schema_version"] == 1 and document["model_version"] == "v0001"
    assert document["test_metrics"] == manifest["test_metrics"] and document["threshold"] == manifest["threshold"]
    assert document["schema"] == manifest["schema"] and document["scorer"] == "compiled"
    assert document["threshold"] < document["high_risk_from"] < 1


def test_metrics_count_requests_latency_errors_and_the_version(client):
    client.post("/predict", json=EXAMPLE_ROW)
    client.post("/predict", json=[EXAMPLE_ROW, EXAMPLE_ROW])
    client.post("/predict", json={"Age": 3})
    text = client.get("/metrics").text
    assert 'churnctl_serve_requests_total{endpoint="/predict",method="POST",status="200"} 2.0' in text
    assert 'churnctl_serve_requests_total{endpoint="/predict",method="POST",status="422"} 1.0' in text
    assert 'churnctl_serve_errors_total{kind="invalid_input"} 1.0' in text
    assert 'churnctl_serve_request_duration_seconds_count{endpoint="/predict"} 3.0' in text
    assert 'churnctl_serve_predicted_rows_total{version="v0001"} 3.0' in text
    assert 'churnctl_serve_model_info{version="v0001"} 1.0' in text


def test_openapi_is_generated_from_the_served_models_schema(client, artifacts):
    document = client.get("/openapi.json").json()
    customer = document["components"]["schemas"]["Customer"]
    assert customer["required"] == list(EXAMPLE_ROW)
    assert customer["properties"]["Geography"]["example"] in ("France", "Germany", "Spain")
    assert "v0001" in document["info"]["description"]
    example = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert client.post("/predict", json=example["one customer"]["value"]).status_code == 200
    assert "swagger" in client.get("/docs").text.lower()


def test_hot_reload_serves_a_promoted_version_within_two_seconds(client, artifacts):
    from churnctl.lifecycle.models import promote
    from churnctl.registry import Registry

    copy_version(artifacts, "v0002")
    promote(Registry(artifacts), "v0002")
    promoted = time.monotonic()
    while client.get("/health").json()["model_version"] != "v0002":
        assert time.monotonic() - promoted < 2.0, "not reloaded within 2 s"
        time.sleep(0.02)
    assert client.post("/predict", json=EXAMPLE_ROW).json()["model_version"] == "v0002"
    assert client.get("/model").json()["scorer"] == "scikit-learn"  # v0002 has no compiled model
    text = client.get("/metrics").text
    assert 'churnctl_serve_model_info{version="v0002"} 1.0' in text and 'version="v0001"} 1.0' not in text


def test_a_version_failing_its_checksum_is_not_loaded_and_the_old_one_keeps_serving(client, artifacts, caplog):
    from churnctl.lifecycle.models import promote
    from churnctl.registry import Registry

    holder = client.app.app.state.holder
    holder.stop()  # reload by hand below, at a known moment
    copy_version(artifacts, "v0002")
    promote(Registry(artifacts), "v0002")
    model = artifacts / "models" / "v0002" / "model.joblib"
    model.write_bytes(model.read_bytes() + b"tampered")
    holder.refresh()
    assert holder.current.version == "v0001"
    assert "SHA-256 mismatch" in caplog.text and "v0001 keeps serving" in caplog.text
    health = client.get("/health").json()
    assert health["model_version"] == "v0001" and "cannot be loaded" in health["reload_error"]
    assert str(artifacts) not in json.dumps(health)
    assert "SHA-256 mismatch" in client.get("/model").json()["reload_error"]
    assert client.post("/predict", json=EXAMPLE_ROW).json()["model_version"] == "v0001"
    assert 'churnctl_serve_model_reloads_total{outcome="failed"} 1.0' in client.get("/metrics").text


def test_prediction_log_is_read_by_drift_check(artifacts, cli):
    rows = [{**EXAMPLE_ROW, "Age": 20 + i % 50, "CustomerId": i} for i in range(150)]
    with serve(artifacts, log_predictions=True) as logging_client:
        for start in range(0, 150, 50):
            assert logging_client.post("/predict", json=rows[start : start + 50]).status_code == 200
        logging_client.post("/predict", json={"Age": "x"})  # refused: not logged
    files = list((artifacts / "predictions").rglob("*.jsonl"))
    assert len(files) == 1 and files[0].parent.name == files[0].name[:10]
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(lines) == 150 and lines[7]["input"] == rows[7] and lines[7]["model_version"] == "v0001"
    assert set(lines[7]["output"]) == {"churn_probability", "churn_label", "risk_level", "confidence"}
    with files[0].open("ab") as handle:
        handle.write(b'{"time": "2026-')  # a line cut by a crash
    run = cli("--artifacts", artifacts, "drift-check", "--current", artifacts / "predictions", "--format", "json")
    assert run.code in (0, 1), run.stderr
    assert run.json()["n_current"] == 150


def test_serve_without_the_extra_exits_2_naming_the_install_command(cli, artifacts, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    run = cli("--artifacts", artifacts, "serve")
    assert run.code == 2 and "pip install 'churnctl[serve]'" in run.stderr and "fastapi" in run.stderr


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--log-rotation", "weekly"], 2, "'weekly' is not one of"),
        (["--workers", "0"], 2, "--workers 0 is out of range"),
        (["--port", "70000"], 2, "--port 70000 is out of range"),
    ],
)
def test_serve_refuses_bad_options(cli, artifacts, args, code, words):
    run = cli("--artifacts", artifacts, "serve", *args)
    assert run.code == code and words in run.stderr


def test_serve_refuses_a_missing_artifacts_directory_and_a_taken_port(cli, artifacts, tmp_path):
    import socket

    run = cli("--artifacts", tmp_path / "nowhere", "serve")
    assert run.code == 4 and "does not exist" in run.stderr
    (artifacts / "predictions").write_text("in the way")
    run = cli("--artifacts", artifacts, "serve", "--log-predictions")
    assert run.code == 4 and "predictions is not a folder" in run.stderr
    (artifacts / "predictions").unlink()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = cli("--artifacts", artifacts, "serve", "--port", port)
    assert run.code == 2 and f"cannot listen on 127.0.0.1:{port}" in run.stderr and "--port" in run.stderr


def test_json_constants_read_as_csv_text_and_huge_numbers_are_refused(client, cli, artifacts, tmp_path):
    body = (
        '{"CreditScore": NaN, "Geography": "France", "Gender": "Male", "Age": 35, "Tenure": Infinity, "Balance": 0, '
        '"NumOfProducts": 1, "HasCrCard": 1, "IsActiveMember": 1, "EstimatedSalary": 1, "CustomerId": NaN}'
    )
    answer = client.post("/predict", content=body)
    assert answer.status_code == 200 and answer.json()["CustomerId"] is None  # NaN is null: valid JSON out
    path = tmp_path / "row.json"
    path.write_text(body)
    assert cli("--artifacts", artifacts, "predict", "--json", path).json() == answer.json()
    huge = client.post("/predict?explain=true", json={**EXAMPLE_ROW, "Age": 1e308})
    assert huge.status_code == 422 and "too large to model" in huge.text
    assert client.post("/predict", json={**EXAMPLE_ROW, "Balance": -1e200}).json()["detail"][0]["type"] == "too_large"


def test_many_bad_rows_get_one_problem_per_feature_with_the_rows_capped(artifacts):
    with serve(artifacts, max_rows=50_000) as roomy:
        answer = roomy.post("/predict", content=b"[" + b",".join([b"{}"] * 50_000) + b"]")
        assert answer.status_code == 422 and len(answer.content) < 100_000
        detail = answer.json()["detail"]
        assert len(detail) == len(EXAMPLE_ROW) and all(d["n_rows"] == 50_000 and len(d["rows"]) == 100 for d in detail)
    with serve(artifacts, max_rows=10) as strict:
        answer = strict.post("/predict", json=[EXAMPLE_ROW] * 11)
        assert answer.status_code == 413 and "11 rows" in answer.json()["detail"]


def test_long_warnings_are_cut_to_fit_a_header(client):
    rows = [{**EXAMPLE_ROW, "Geography": f"{i}" + "x" * 100_000} for i in range(5)]
    answer = client.post("/predict", json=rows)
    assert answer.status_code == 200 and len(answer.headers["x-churnctl-warnings"]) <= 4096
    assert "characters" in json.loads(answer.headers["x-churnctl-warnings"])[0]


def test_a_version_with_a_damaged_reference_is_not_loaded(client, artifacts):
    from churnctl.lifecycle.models import promote
    from churnctl.registry import Registry

    holder = client.app.app.state.holder
    holder.stop()
    copy_version(artifacts, "v0002")
    promote(Registry(artifacts), "v0002")
    reference = artifacts / "models" / "v0002" / "reference.parquet"
    reference.write_bytes(reference.read_bytes()[:-1] + b"!")
    holder.refresh()
    assert holder.current.version == "v0001"
    assert client.post("/predict?explain=true", json=EXAMPLE_ROW).status_code == 200


def test_an_internal_error_is_a_500_without_internals_logged_once_with_its_traceback(client, caplog):
    served = client.app.app.state.holder.current

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail /srv/path")

    served.scorer.score_rows = broken
    answer = client.post("/predict", json=EXAMPLE_ROW)
    assert answer.status_code == 500 and "secret" not in answer.text and "/srv" not in answer.text
    records = [r for r in caplog.records if "internal error answering" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is not None
    assert client.head("/health").status_code == 200


def test_docs_page_needs_nothing_from_the_internet(client):
    """/docs loads Swagger UI from the service itself: every script, style sheet and icon it names is
    a path of this server that answers, and the bundle reads OpenAPI 3.1 (what /openapi.json is)."""
    import re

    page = client.get("/docs").text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r"url: '([^']+)'", page)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "cdn" not in page.lower() and "https://" not in page
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 100, url
    bundle = next(url for url in urls if url.endswith("swagger-ui-bundle.js"))
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    assert "OpenAPI31" in client.get(bundle).text  # Swagger UI 5: earlier ones refuse a 3.1 document
    assert '"validatorUrl": null' in page  # no call to swagger.io's validator


def test_openapi_describes_the_error_bodies_predict_sends(client):
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/predict"]["post"]["responses"]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 body, which /predict never sends
    problems = client.post("/predict", json={"Age": "x"}).json()
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Problems")
    assert set(problems) <= set(schemas["Problems"]["properties"])
    item = schemas["Problems"]["properties"]["detail"]["items"]
    for entry in problems["detail"]:
        assert set(item["required"]) <= set(entry) <= set(item["properties"])
    tags = {spec["tags"][0] for operations in document["paths"].values() for spec in operations.values()}
    assert tags == {"predictions", "operations"}
