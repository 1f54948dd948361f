"""The load test of ``churnctl serve`` in ``make bench`` (operation ``serve``).

One-row ``POST /predict`` requests from 8 concurrent keep-alive clients (:mod:`tests.bench.serve_load`,
in this process) against a server started as a user starts it, on 127.0.0.1, for the default model
(``churnctl train`` on the simulated reference file), without and with ``--log-predictions``. The floor
is the same HTTP stack doing nothing: a bare ASGI application on uvicorn, with the same settings, that
answers every request with a fixed prediction of the same size. Each server gets a warm-up, then
``BENCH_REPEATS`` rounds of ``BENCH_SERVE_REQUESTS`` requests; the round with the median p50 is shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.bench.measure import BenchError, log
from tests.bench.serve_load import LoadResult, load
from tests.bench.workspace import Workspace, last_line

HOST = "127.0.0.1"
CLIENTS = 8
WARM_UP = 500
P50_MS, P99_MS = 5.0, 20.0  # the serve issue's targets
FLOOR_SERVER = """
import sys, uvicorn
BODY = (b'{"churn_probability":0.123456,"churn_label":0,"risk_level":"low","confidence":0.612345,'
        b'"model_version":"v0001"}')
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False, server_header=False)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _running(command: list[str], port: int, env: dict[str, str], cwd: Path) -> Iterator[None]:
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # the floor answers every path
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"server did not start: {last_line(process.communicate(timeout=5)[1])}") from None
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _rounds(port: int, body: bytes, requests: int, repeats: int) -> LoadResult:
    load(HOST, port, body, WARM_UP, CLIENTS)
    results = [load(HOST, port, body, requests, CLIENTS) for _ in range(repeats)]
    for result in results:
        bad = [a.status for a in result.answers if a.status != 200]
        if result.errors or bad:
            raise BenchError(f"the load test got errors: {result.errors[:3]} statuses {sorted(set(bad))}")
    return sorted(results, key=lambda r: r.percentile(50))[len(results) // 2]


def serve_benchmark(ws: Workspace, reference: Path, repeats: int) -> list[str]:
    requests = int(os.environ.get("BENCH_SERVE_REQUESTS", "5000"))
    artifacts = ws.ingest("serve", reference)
    version = ws.train(artifacts)
    manifest = json.loads((artifacts.root / "models" / version / "manifest.json").read_text())
    body = ws.row().read_bytes()
    measured: list[tuple[str, LoadResult]] = []
    servers = {
        "churnctl serve": [],
        "churnctl serve --log-predictions": ["--log-predictions"],
    }
    for label, extra in servers.items():
        port = _free_port()
        command = ws.cli(artifacts.root, "serve", "--port", str(port), *extra)
        with _running(command, port, ws.env, ws.work):
            log(f"  {label}: {repeats} x {requests} requests, {CLIENTS} clients")
            measured.append((label, _rounds(port, body, requests, repeats)))
    port = _free_port()
    floor = ws.work / "floor_server.py"
    floor.write_text(FLOOR_SERVER)
    with _running([sys.executable, str(floor), str(port)], port, ws.env, ws.work):
        log("  floor: bare ASGI app on uvicorn")
        measured.append(("floor: bare ASGI app, fixed answer", _rounds(port, body, requests, repeats)))
    floor_p50 = measured[-1][1].percentile(50)
    lines = [
        f"`churnctl serve`: one-row POST /predict, {CLIENTS} concurrent keep-alive clients on 127.0.0.1, "
        f"{requests} requests per round, the median round of {repeats}; model {version} = "
        f"{manifest['estimator']} {manifest['params']} (the default `churnctl train` on {reference.name}).",
        "",
        "| server | p50 ms | p90 ms | p99 ms | max ms | requests/s | p50 / floor | targets |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, result in measured:
        s = result.summary()
        targets = "–"
        if label.startswith("churnctl"):
            met = [f"p50 ≤ {P50_MS:g} ms → {_verdict(s['p50_ms'], P50_MS)}", f"p99 ≤ {P99_MS:g} ms → "]
            met[1] += _verdict(s["p99_ms"], P99_MS)
            targets = "; ".join(met)
        lines.append(
            f"| {label} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} | {s['p99_ms']:.2f} | {s['max_ms']:.2f} | "
            f"{s['per_second']:.0f} | {result.percentile(50) / floor_p50:.2f}× | {targets} |"
        )
    return lines


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else f"short: {value / limit:.2f}×"
