"""``churnctl serve``: the HTTP prediction service, on the same core as ``predict --json``.

:mod:`~churnctl.serve.holder` keeps the current model version loaded and swaps in a new one when the
current pointer moves; :mod:`~churnctl.serve.app` is the FastAPI application (routes, validation,
errors), :mod:`~churnctl.serve.guard` the ASGI layer in front of it (API key, body size, timing),
:mod:`~churnctl.serve.prometheus` its Prometheus metrics, :mod:`~churnctl.serve.openapi` the API
description generated from the model's schema, and :mod:`~churnctl.serve.run` starts uvicorn. The
prediction log is :mod:`churnctl.data.predlog`. FastAPI, uvicorn and fastapi-offline
(Swagger UI's files, so ``/docs`` works without internet) come with the ``serve`` extra.
"""

from __future__ import annotations

from churnctl.runtime.extras import require


def require_extra() -> None:
    """Exit 2 naming the install command when FastAPI, uvicorn or the offline /docs files are missing."""
    require(("fastapi", "uvicorn", "fastapi_offline"), "churnctl serve", "serve")
