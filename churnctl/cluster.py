"""The Dask engine (``--engine dask``, the ``dask`` extra): the per-part tasks of :mod:`churnctl.engine`
on a Dask cluster.

What runs where: the client (the churnctl command) reads and verifies the model version (signature,
checksums), lists the input's parts, ships the verified model and the reference profile to every
worker once, and merges the partial results; it alone takes the registry's lock and writes events.
Workers read their parts (shared storage or URLs), score and summarise them, and for
``predict --input`` write their part's predictions into a staging folder of ``--output``; they never
read or write the artifacts directory. A task whose worker dies is run again elsewhere (Dask's own
rescheduling, plus :data:`RETRIES`); when that fails too the run stops with exit 5 and publishes
nothing.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from churnctl.errors import ChurnctlError, ClusterError, UsageError
from churnctl.sources import Part

log = logging.getLogger(__name__)
R = TypeVar("R")
INSTALL = "pip install 'churnctl[dask]'"
RETRIES = 2  # more attempts of a task that failed for a reason other than a data or artifact problem
CONNECT_SECONDS = 10


def require_extra() -> None:
    missing = [name for name in ("dask", "distributed") if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"--engine dask needs {' and '.join(missing)}, which the base install leaves out",
            hint=f"install the dask extra: {INSTALL}",
        )


@dataclass
class _Failed:
    """A task's data or artifact problem, returned instead of raised: Dask would retry it."""

    error: ChurnctlError


def _guarded(task: Callable[[Part, int, Any], Any], part: Part, offset: int, job: Any) -> Any:
    try:
        return task(part, offset, job)
    except ChurnctlError as exc:
        return _Failed(exc)


def count_rows(part: Part, offset: int, job: Any) -> int:
    """Data rows of a part: Parquet metadata, or one parse of a CSV's first column."""
    del offset, job
    if part.location.lower().endswith((".parquet", ".pq")) and "://" not in part.location:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(part.location).metadata.num_rows)
    first = part.header()[:1]
    return sum(len(batch) for batch in part.batches(first, 1_000_000))


class DaskEngine:
    name = "dask"

    def __init__(self, client: Any):
        self.client = client

    def map_parts(
        self, task: Callable[[Part, int, Any], R], parts: Sequence[Part], job: Any, *, offsets: bool = False
    ) -> list[R]:
        n = len(parts)
        starts = [0] * n
        if offsets and n > 1:
            counts = self._run(count_rows, parts, starts, [None] * n)
            starts = [0, *itertools.accumulate(counts)][:n]
        shared = self.client.scatter(job, broadcast=True, hash=False)
        return self._run(task, parts, starts, [shared] * n)

    def _run(self, task: Callable[[Part, int, Any], Any], parts: Sequence[Part], starts: list[int], jobs: list) -> list:
        """``task`` on every part; the first part's data or artifact problem is raised, as the local engine would."""
        futures = self.client.map(_guarded, [task] * len(parts), parts, starts, jobs, pure=False, retries=RETRIES)
        results = self._gather(futures)
        for result in results:
            if isinstance(result, _Failed):
                raise result.error
        return results

    def _gather(self, futures: list[Any]) -> list[Any]:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        try:
            return list(self.client.gather(futures))
        except KilledWorker as exc:
            raise ClusterError(
                f"workers died running a part of this run: {exc}",
                hint="check the workers' memory (a part must fit in one worker) and their logs; nothing was published",
            ) from None
        except (OSError, TimeoutError, FutureCancelledError) as exc:
            raise ClusterError(
                f"lost the Dask cluster during the run: {type(exc).__name__}: {exc}",
                hint="check the scheduler and the workers; nothing was published",
            ) from None
        finally:
            for future in futures:
                future.release()


@contextmanager
def dask_engine(address: str | None) -> Iterator[DaskEngine]:
    """A client of the scheduler at ``address``, or of a local cluster started for the run (one
    single-threaded worker process per core)."""
    require_extra()
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {address}: {exc}",
                hint="check --scheduler (or $DASK_SCHEDULER_ADDRESS), e.g. tcp://HOST:8786, and that "
                "'dask scheduler' runs there",
            ) from None
        try:
            yield DaskEngine(client)
        finally:
            client.close()
        return
    cores = os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        log.debug("started a local Dask cluster of %d worker(s): %s", cores, cluster.scheduler_address)
        yield DaskEngine(client)
