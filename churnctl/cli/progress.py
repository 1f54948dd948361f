"""Progress bars on stderr for long work, only where someone watches: stderr is a terminal and
``-q`` was not given. stdout (tables, JSON documents, scored rows) is never touched."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars

from churnctl.cli.context import state
from churnctl.runtime.progress import Progress, no_progress


@contextmanager
def progress_bars(ctx: typer.Context) -> Iterator[Progress]:
    """A ``progress`` callable for the core: one bar per stage, removed when the work ends."""
    if state(ctx).verbosity < 0 or state(ctx).json_logs or not sys.stderr.isatty():
        yield no_progress
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # stdout is left alone: scored rows may be streaming to it while the bars run
    bars_console = Console(stderr=True)
    with Bars(*columns, console=bars_console, transient=True, redirect_stdout=False, redirect_stderr=False) as bars:
        tasks = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update
