"""The ASGI layer in front of the application: the API key, the body size limit, and the request
metrics. Plain ASGI (no per-request middleware objects) to keep a request's overhead small."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from churnctl.serve.prometheus import ServiceMetrics, endpoint_label

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})  # answered without the API key (probes, load balancers)
ERROR_KINDS = {401: "unauthorized", 413: "too_large", 422: "invalid_input", 500: "internal", 503: "no_model"}
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


async def send_json(send: Send, status: int, document: dict, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(document).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Wraps the application: refuses requests without the API key (401) or with a body over
    ``max_body_bytes`` (413, read no further), hands the app the body already read, and counts every
    request and its latency."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, max_body_bytes: int, api_key: str | None):
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes
        self.api_key = api_key.encode("utf-8") if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint = endpoint_label(scope["path"])
        status, answered = 500, False

        async def counted(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = int(message["status"]), True
            await send(message)

        try:
            if self.api_key is not None and scope["path"] not in OPEN_PATHS and not self._authorised(scope):
                await send_json(
                    counted,
                    401,
                    {
                        "detail": "this request needs the service's API key",
                        "hint": "send it in the X-API-Key header (or Authorization: Bearer KEY)",
                    },
                    [(b"www-authenticate", b'Bearer realm="churnctl"')],
                )
                return
            if scope["method"] in WITH_BODY:
                body = await self._read_body(scope, receive)
                if body is None:
                    await send_json(
                        counted,
                        413,
                        {
                            "detail": f"the request body is larger than the limit of {self.max_body_bytes} bytes",
                            "hint": "send fewer rows per request, or raise [serve] max_body_bytes",
                        },
                        [(b"connection", b"close")],
                    )
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, counted)
        except Exception:  # logged with its traceback by the application's handler: not again
            if not answered:
                await send_json(counted, 500, {"detail": "internal error; the server's log has the details"})
        finally:
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            kind = ERROR_KINDS.get(status)
            if kind is not None:
                self.metrics.errors.labels(kind).inc()

    def _authorised(self, scope: Scope) -> bool:
        assert self.api_key is not None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and hmac.compare_digest(value, self.api_key):
                return True
            bearer = name == b"authorization" and value[:7].lower() == b"bearer "
            if bearer and hmac.compare_digest(value[7:].strip(), self.api_key):
                return True
        return False

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to exceed the limit."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: the app sees an empty body and nobody reads the answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that gives ``body`` first, then whatever the connection says next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
