"""The real server: ``churnctl serve`` on uvicorn at 127.0.0.1, under load from 8 concurrent clients,
with a promotion in the middle, a prediction log that drift-check reads, and a crash."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="churnctl serve needs the serve extra")

from tests.bench.serve_load import load
from tests.bench.workspace import churnctl_command
from tests.conftest import EXAMPLE_ROW

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(artifacts: Path, *args: str):
    """A running ``churnctl serve``; yields (process, port) once /health answers 200."""
    port = free_port()
    command = [*churnctl_command(), "--artifacts", str(artifacts), "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {process.communicate(timeout=5)[1]}")
            time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def two_versions(artifacts, fast_config):
    """v0001 (gradient boosting, current) and v0002 (logistic regression, not promoted), and the
    probability each gives the example row."""
    from churnctl.config import Settings, load_settings
    from churnctl.lifecycle.train import train
    from churnctl.model.scorer import Scorer
    from churnctl.registry import Registry

    registry = Registry(artifacts)
    train(registry, load_settings(fast_config), model="logreg")
    expected = {}
    for version in ("v0001", "v0002"):
        scorer = Scorer.load(registry, Settings(), version)
        assert scorer.compiled is not None
        result = scorer.score_rows([EXAMPLE_ROW], True, "row")
        expected[version] = result.predictions[0]["churn_probability"]
    assert expected["v0001"] != expected["v0002"]
    return expected


def test_hot_reload_under_load_has_no_errors_and_no_mixed_answers(artifacts, two_versions, cli):
    from churnctl.lifecycle.models import promote
    from churnctl.registry import Registry

    halfway, promoted_at = threading.Event(), []
    with server(artifacts, "--log-predictions") as (process, port):
        outcome = {}

        def run() -> None:
            body = json.dumps(EXAMPLE_ROW).encode()
            outcome["result"] = load(HOST, port, body, 5000, 8, on_answer=lambda n: n == 2500 and halfway.set())

        thread = threading.Thread(target=run)
        thread.start()
        assert halfway.wait(60), "the load did not get halfway"
        promote(Registry(artifacts), "v0002")
        promoted_at.append(time.perf_counter())
        thread.join(120)
        result = outcome["result"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) in (0, 143), process.stderr.read()
    assert not result.errors and len(result.answers) == 5000
    assert Counter(a.status for a in result.answers) == {200: 5000}
    versions = Counter()
    for answer in result.answers:
        body = json.loads(answer.body)
        version = body["model_version"]
        versions[version] += 1
        assert answer.headers["x-churnctl-model-version"] == version
        assert body["churn_probability"] == two_versions[version], "an answer mixes two versions"
    assert set(versions) == {"v0001", "v0002"}, versions
    late = [a for a in result.answers if json.loads(a.body)["model_version"] == "v0001"]
    assert max(a.started for a in late) < promoted_at[0] + 2.0, "v0001 still answered 2 s after the promotion"
    p50 = sorted(a.seconds for a in result.answers)[2500]
    print(f"5000 requests, 8 clients: p50 {p50 * 1e3:.2f} ms, {result.throughput:.0f}/s, {dict(versions)}")

    run = cli("--artifacts", artifacts, "drift-check", "--current", artifacts / "predictions", "--format", "json")
    assert run.code in (0, 1), run.stderr
    assert run.json()["n_current"] == 5000  # every answered row, once
    assert "several model versions" in run.stderr


@pytest.mark.slow
def test_a_killed_server_leaves_a_log_that_loses_at_most_a_cut_line(artifacts, cli):
    from churnctl.data.predlog_reader import LogReading, log_source

    with server(artifacts, "--log-predictions", "--log-rotation", "hourly") as (process, port):
        killer = threading.Timer(1.0, process.kill)
        killer.start()
        rows = json.dumps([EXAMPLE_ROW] * 20).encode()
        result = load(HOST, port, rows, 100_000, 8)
        killer.join()
    answered = sum(len(json.loads(a.body)) for a in result.answers if a.status == 200)
    assert answered > 0 and result.errors  # the connections broke when the server died
    source, reading, logged = log_source(artifacts / "predictions"), LogReading(), 0
    for part in source.parts:
        logged += sum(len(frame) for frame in part.batches(list(EXAMPLE_ROW), 100_000))
        reading.add(part.reading())
    assert not reading.skipped and reading.cut <= 1
    assert answered <= logged + 20  # every answered row was logged before the answer left (bar a cut request)
    assert Path(source.parts[0].location).name.count("T") == 1  # hourly files
    run = cli("--artifacts", artifacts, "drift-check", "--current", artifacts / "predictions", "--format", "json")
    assert run.code in (0, 1) and run.json()["n_current"] == logged


@pytest.mark.slow
def test_two_workers_share_the_port_the_metrics_and_the_reload(artifacts, two_versions):
    from churnctl.lifecycle.models import promote
    from churnctl.registry import Registry

    with server(artifacts, "--workers", "2") as (process, port):
        result = load(HOST, port, json.dumps(EXAMPLE_ROW).encode(), 400, 8)
        assert not result.errors and {a.status for a in result.answers} == {200}
        deadline = time.monotonic() + 20
        while True:  # a request is counted just after its answer has gone out; on a busy machine the
            # second worker may still be starting when the first has answered everything
            with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
            counted = [line for line in text.splitlines() if line.startswith("churnctl_serve_requests_total{")]
            total = sum(float(line.split()[-1]) for line in counted if "/predict" in line)
            workers = text.count('churnctl_serve_model_info{pid="')
            if (total == 400 and workers == 2) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert total == 400
        assert text.count('churnctl_serve_model_info{pid="') == 2  # one per worker
        promote(Registry(artifacts), "v0002")
        promoted = time.monotonic()
        time.sleep(2.0)
        after = load(HOST, port, json.dumps(EXAMPLE_ROW).encode(), 200, 8)
        assert {json.loads(a.body)["model_version"] for a in after.answers} == {"v0002"}
        assert time.monotonic() - promoted < 10
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) in (0, 143)


@pytest.mark.slow
def test_docs_render_in_a_browser_that_cannot_reach_the_internet(artifacts, tmp_path):
    """Headless Chromium with every host but this one unresolvable: Swagger UI still draws the
    operations and the model's request example."""
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium or Chrome on this machine to open /docs with")
    with server(artifacts) as (_, port):
        page = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {HOST}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"http://{HOST}:{port}/docs#/predictions/predict",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    assert 'class="swagger-ui' in page and "opblock-summary-path" in page, page[:2000]
    for path in ("/predict", "/health", "/model", "/metrics"):
        assert f'data-path="{path}"' in page
    assert "CreditScore" in page  # the served model's example customer, opened by the deep link
