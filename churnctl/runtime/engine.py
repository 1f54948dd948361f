"""Where the per-part work of ``predict --input``, ``drift-check`` and ``evaluate --data`` runs.

A task is a module-level function ``task(part, offset, job)``: ``part`` a :class:`Part` (such as
:class:`churnctl.data.sources.Part`),
``offset`` the number of input rows before it, ``job`` what every part needs (the verified model, the
reference, the settings). It returns a partial result with ``n_rows``. :class:`LocalEngine` runs the
tasks one after the other in this process; :class:`churnctl.runtime.cluster.DaskEngine` runs the same tasks
on a Dask cluster. The caller merges the partial results in part order, so both engines give the same
answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from churnctl.errors import UsageError
from churnctl.runtime.parts import P

R = TypeVar("R")


ENGINES = ("local", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class Engine(Protocol):
    name: str  # for the record (events), never to tell engines apart: ask what they can do
    in_process: bool  # tasks run here, one after the other (they may share this process's objects)

    def map_parts(
        self, task: Callable[[P, int, Any], R], parts: Sequence[P], job: Any, *, offsets: bool = False
    ) -> list[R]:
        """``task`` on every part, results in part order. With ``offsets``, each part gets the number
        of input rows before it (a cluster counts them first); without, 0."""
        ...


class LocalEngine:
    name = "local"
    in_process = True

    def map_parts(
        self, task: Callable[[P, int, Any], R], parts: Sequence[P], job: Any, *, offsets: bool = False
    ) -> list[R]:
        results: list[R] = []
        offset = 0
        for part in parts:
            result = task(part, offset if offsets else 0, job)
            results.append(result)
            offset += int(getattr(result, "n_rows", 0))
        return results


@contextmanager
def open_engine(name: str = "local", scheduler: str | None = None) -> Iterator[Engine]:
    """The engine of a run; ``dask`` connects to ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``), or
    starts a local cluster for the run, and disconnects at the end."""
    if name not in ENGINES:
        raise UsageError(f"--engine {name!r}: expected one of {', '.join(ENGINES)}")
    if name == "local":
        if scheduler:
            raise UsageError("--scheduler goes with --engine dask", hint="add --engine dask, or drop --scheduler")
        yield LocalEngine()
        return
    from churnctl.runtime.cluster import dask_engine

    with dask_engine(scheduler or os.environ.get(SCHEDULER_ENV) or None) as engine:
        yield engine
