"""churnctl serve."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Optional

import typer

from churnctl.cli.context import state


class Rotation(StrEnum):
    hourly = "hourly"
    daily = "daily"


def serve_command(
    ctx: typer.Context,
    host: Annotated[
        Optional[str], typer.Option("--host", help="Address to listen on [default: 127.0.0.1; 0.0.0.0 for all].")
    ] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="TCP port [default: 8000].")] = None,
    workers: Annotated[
        Optional[int], typer.Option("--workers", help="Server processes sharing the port [default: 1].")
    ] = None,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log-predictions",
            help="Append every scored row (inputs, outputs, version, time) under ARTIFACTS/predictions/, "
            "for churnctl drift-check --current ARTIFACTS/predictions.",
        ),
    ] = False,
    log_rotation: Annotated[
        Optional[Rotation],
        typer.Option("--log-rotation", help="New prediction log file every hour or day [default: daily]."),
    ] = None,
    log_keep_days: Annotated[
        Optional[int],
        typer.Option("--log-keep-days", help="Delete prediction log days older than this (0: keep all) [default: 0]."),
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log one line per request on stderr.")] = False,
) -> None:
    """Serve predictions over HTTP: POST /predict, GET /health, /model, /metrics, /docs.

    Needs the serve extra (pip install 'churnctl[serve]'). The current model is reloaded within a
    second of retrain, models promote or models rollback moving it; set CHURNCTL_API_KEY to require a key.

    Example: churnctl serve --host 0.0.0.0 --port 8000 --workers 2 --log-predictions
    """
    from dataclasses import asdict, replace

    from churnctl.config import validate_serve
    from churnctl.serve import require_extra
    from churnctl.serve.options import ServeOptions

    require_extra()
    st = state(ctx)
    cfg = st.settings.serve
    chosen: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers,
        "log_rotation": log_rotation.value if log_rotation else None,
        "log_keep_days": log_keep_days,
    }
    cfg = replace(cfg, **{k: v for k, v in chosen.items() if v is not None})
    validate_serve(cfg, flags=True)
    options = ServeOptions(
        artifacts=str(st.artifacts),
        config=str(st.settings.source) if st.settings.source else None,
        log_predictions=log_predictions,
        verbosity=st.verbosity,
        json_logs=st.json_logs,
        access_log=access_log,
        **asdict(cfg),  # [serve] with the flags applied
    )
    from churnctl.serve.run import serve

    serve(options)
