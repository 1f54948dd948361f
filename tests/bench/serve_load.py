"""A small HTTP load generator for ``churnctl serve``: ``concurrency`` clients, each on one keep-alive
connection, send requests back to back until ``requests`` have been answered; every answer's latency
(from the first byte sent to the last byte received), status, headers and body are kept.

It runs on asyncio streams in one thread, so its own cost per request is a few tens of microseconds;
on a 2-core machine it shares the cores with the server, as a client on the same host would.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Answer:
    started: float  # time.perf_counter() when the request was sent
    seconds: float
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # connection failures, not HTTP statuses
    seconds: float = 0.0

    def latencies(self) -> list[float]:
        return sorted(a.seconds for a in self.answers)

    def percentile(self, q: float) -> float:
        values = self.latencies()
        return values[min(len(values) - 1, max(0, round(q / 100 * len(values)) - 1))]

    @property
    def throughput(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float]:
        values = self.latencies()
        return {
            "requests": len(values),
            "p50_ms": self.percentile(50) * 1e3,
            "p90_ms": self.percentile(90) * 1e3,
            "p99_ms": self.percentile(99) * 1e3,
            "max_ms": values[-1] * 1e3,
            "mean_ms": statistics.fmean(values) * 1e3,
            "per_second": self.throughput,
        }


def request_bytes(path: str, body: bytes, host: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


async def _client(
    host: str,
    port: int,
    payload: bytes,
    budget: list[int],
    result: LoadResult,
    on_answer: Callable[[int], None] | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            result.answers.append(Answer(started, time.perf_counter() - started, status, headers, body))
            if on_answer is not None:
                on_answer(len(result.answers))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


def load(
    host: str,
    port: int,
    body: bytes,
    requests: int,
    concurrency: int,
    *,
    path: str = "/predict",
    headers: dict[str, str] | None = None,
    on_answer: Callable[[int], None] | None = None,
) -> LoadResult:
    """Send ``requests`` POSTs of ``body`` over ``concurrency`` connections; ``on_answer(n)`` is called
    after the n-th answer (in the event loop: keep it short)."""
    result = LoadResult()
    payload = request_bytes(path, body, f"{host}:{port}", headers)
    budget = [requests]

    async def main() -> None:
        await asyncio.gather(*(_client(host, port, payload, budget, result, on_answer) for _ in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(main())
    result.seconds = time.perf_counter() - started
    return result
