"""Starting uvicorn for ``churnctl serve``: one process, or ``--workers N`` processes sharing the port
(uvicorn's supervisor restarts a worker that dies; metrics are merged across workers)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
from typing import Any

from churnctl.data.predlog import check_log_folder, log_folder
from churnctl.errors import ArtifactError, UsageError
from churnctl.logs import route_server_logs
from churnctl.serve.options import ENV, ServeOptions

log = logging.getLogger("churnctl")
GRACEFUL_SECONDS = 10  # requests in flight get this long to finish on SIGTERM / Ctrl-C


def serve(options: ServeOptions) -> None:
    """Run the service until interrupted."""
    import uvicorn

    from churnctl.serve.prometheus import MULTIPROC_ENV

    if not options.artifacts_path.is_dir():
        raise ArtifactError(
            f"the artifacts directory {options.artifacts} does not exist",
            hint="point --artifacts (or $CHURNCTL_ARTIFACTS) at the directory churnctl train writes",
        )
    if options.log_predictions:
        check_log_folder(log_folder(options.artifacts))
    route_server_logs(options.verbosity, options.access_log)
    settings: dict[str, Any] = {
        "log_config": None,
        "access_log": options.access_log,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "lifespan": "on",
    }
    if options.workers == 1:
        from churnctl.serve.app import create_app

        app = create_app(options)  # settings problems end the run here, before the port is taken
        sock = _bind(options.host, options.port)
        host = f"[{options.host}]" if ":" in options.host else options.host
        log.info("listening on http://%s:%d (API description at /docs)", host, sock.getsockname()[1])
        config = uvicorn.Config(app, host=options.host, port=options.port, **settings)
        uvicorn.Server(config).run(sockets=[sock])
        return
    _bind(options.host, options.port).close()  # a taken port is a clear error, not a worker crash loop
    folder = tempfile.mkdtemp(prefix="churnctl-serve-metrics-")
    os.environ[MULTIPROC_ENV], os.environ[ENV] = folder, options.to_env()
    try:
        uvicorn.run(
            "churnctl.serve.app:app_from_environment",
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
            **settings,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for name in (MULTIPROC_ENV, ENV):
            os.environ.pop(name, None)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        with contextlib.suppress(OSError):
            sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (or stop what uses it), and a --host of this machine",
        ) from None
    sock.set_inheritable(True)
    return sock
