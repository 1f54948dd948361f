"""Options shared by several commands."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from churnctl.cli.render import OutputFormat

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text (tables) or json (one document).")]
WaitOption = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the registry lock; 0 fails at once if it is held.")
]
MetricsFileOption = Annotated[
    Optional[Path],
    typer.Option(
        "--metrics-file",
        metavar="FILE.prom",
        help="Also write this run's metrics in the Prometheus text format (atomically; for node_exporter's "
        "textfile collector).",
    ),
]
ValueOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--value",
        metavar="KEY=VALUE",
        help="A [value] setting for this run (repeat for more): customer_value, customer_value_column, "
        "value_horizon, contact_cost, incentive_cost, acceptance_rate (a share, or beta:A,B).",
    ),
]
ModelOption = Annotated[Optional[str], typer.Option("--model", help="Model version, e.g. v0003 (default: current).")]


class Engine(StrEnum):
    local = "local"
    dask = "dask"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local (this process) or dask (a Dask cluster; needs the dask extra).",
    ),
]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 (default: $DASK_SCHEDULER_ADDRESS, "
        "else a local cluster started for the run).",
    ),
]
