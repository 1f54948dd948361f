"""The Dask engine (``--engine dask``, the ``dask`` extra): the per-part tasks of :mod:`churnctl.runtime.engine`
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

import contextlib
import itertools
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from churnctl.errors import ChurnctlError, ClusterError, DataError, UsageError, os_hint, os_reason
from churnctl.runtime.extras import require
from churnctl.runtime.parts import P, Part

log = logging.getLogger(__name__)
R = TypeVar("R")
RETRIES = 2  # more attempts of a task that failed for a reason other than a data or artifact problem
CONNECT_SECONDS = 10
WORKERS_SECONDS = 30  # how long a scheduler may take to have a worker
STOP_SECONDS = 60  # how long a failed run waits for its running tasks to end
LOST_SECONDS = 20  # how long the scheduler may be unreachable during a run
ADDRESS = re.compile(r"(?:(tcp|tls|ws|wss|ucx|inproc)://)?\[?[\w.:-]+\]?:\d+/?")


class TaskBug(RuntimeError):
    """A task failed on a worker for a reason that is neither the data's nor the cluster's: a bug (exit 70)."""


def require_extra() -> None:
    require(("dask", "distributed"), "--engine dask", "dask")


@dataclass
class _Outcome:
    """A task's result, or its data or artifact problem (returned, not raised: Dask would retry it),
    and the warnings it logged on the worker, to be logged again by the client."""

    result: Any = None
    error: ChurnctlError | None = None
    warnings: list[str] = field(default_factory=list)
    bug: str | None = None  # any other exception, with its traceback: an internal error, not the cluster's


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _guarded(task: Callable[[Part, int, Any], Any], part: Part, offset: int, job: Any) -> _Outcome:
    collect, logger = _Collect(), logging.getLogger("churnctl")
    logger.addHandler(collect)
    try:
        return _Outcome(result=task(part, offset, job), warnings=collect.messages)
    except ChurnctlError as exc:
        return _Outcome(error=exc, warnings=collect.messages)
    except OSError as exc:  # the part's file, on this worker: the user's to fix, not a lost cluster
        error = DataError(f"cannot read {part.name}: {os_reason(exc)}", hint=os_hint(exc, "check the file"))
        return _Outcome(error=error, warnings=collect.messages)
    except Exception as exc:
        return _Outcome(bug=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}", warnings=collect.messages)
    finally:
        logger.removeHandler(collect)


def count_rows(part: Part, offset: int, job: Any) -> int:
    """Data rows of a part: Parquet metadata, or one parse of a CSV's first column."""
    del offset, job
    if part.is_parquet:
        rows = part.estimate_rows()  # exact: the metadata
        if rows is not None:
            return rows
    with part.fetched() as local:
        first = local.header()[:1]
        return sum(len(batch) for batch in local.batches(first, 1_000_000))


class DaskEngine:
    name = "dask"
    in_process = False

    def __init__(self, client: Any):
        self.client = client

    def map_parts(
        self, task: Callable[[P, int, Any], R], parts: Sequence[P], job: Any, *, offsets: bool = False
    ) -> list[R]:
        try:
            n = len(parts)
            starts = [0] * n
            if offsets and n > 1:
                counts = self._run(count_rows, parts, starts, [None] * n)
                starts = [0, *itertools.accumulate(counts)][:n]
            shared = self.client.scatter(job, broadcast=True, hash=False)
            return self._run(task, parts, starts, [shared] * n)
        except (ChurnctlError, TaskBug):
            raise
        except Exception as exc:  # every task's own exception comes back as an outcome: this is the cluster's
            raise ClusterError(
                f"lost the Dask cluster during the run: the scheduler went away ({type(exc).__name__})",
                hint="check the scheduler and the workers; nothing was published",
            ) from None

    def _run(self, task: Callable[[P, int, Any], Any], parts: Sequence[P], starts: list[int], jobs: list) -> list:
        """``task`` on every part; the warnings the parts logged, logged here in part order; the first
        part's data or artifact problem raised, as the local engine would."""
        futures = self.client.map(_guarded, [task] * len(parts), parts, starts, jobs, pure=False, retries=RETRIES)
        outcomes = self._gather(futures)
        results = []
        for outcome in outcomes:
            for message in outcome.warnings:
                logging.getLogger("churnctl").warning(message)
            if outcome.error is not None:
                raise outcome.error
            if outcome.bug is not None:
                raise TaskBug(f"on a worker, {outcome.bug}")
            results.append(outcome.result)
        return results

    def _gather(self, futures: list[Any]) -> list[Any]:
        """The futures' results; on any failure (or Ctrl-C) the run's other tasks are cancelled and
        waited for, so that none of them still writes when the caller cleans up."""
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        results: dict[int, Any] = {}
        try:
            self._wait(futures, results)
            return [results[i] for i in range(len(futures))]
        except KilledWorker as exc:
            self._stop(futures)
            raise ClusterError(
                f"workers died running a part of this run: {exc}",
                hint="check the workers' memory (a part must fit in one worker) and their logs; nothing was published",
            ) from None
        except (OSError, TimeoutError, FutureCancelledError) as exc:
            self._stop(futures)
            raise ClusterError(
                f"lost the Dask cluster during the run: {type(exc).__name__}: {exc}",
                hint="check the scheduler and the workers; nothing was published",
            ) from None
        except BaseException:
            self._stop(futures)
            raise
        finally:
            for future in futures:
                future.release()

    def _wait(self, futures: list[Any], results: dict[int, Any]) -> None:
        """Collect each future's result as it ends (and release it, so a worker holds no finished part's
        result while the others run), watching the connection: a scheduler gone for
        :data:`LOST_SECONDS` is a lost cluster (the client would otherwise wait for it forever)."""
        lost_since = None
        while True:
            for i, future in enumerate(futures):
                if i not in results and future.done():
                    results[i] = future.result()
                    future.release()
            if len(results) == len(futures):
                return
            if self.client.status == "running":
                lost_since = None
            else:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_SECONDS:
                    raise OSError(f"no answer from the scheduler for {LOST_SECONDS} s")
            time.sleep(0.02)

    def _stop(self, futures: list[Any]) -> None:
        """Cancel the tasks and wait (a while) until none runs any more: Dask cannot interrupt a running
        task, so the caller must not remove what they write before they end."""
        with contextlib.suppress(Exception):
            self.client.cancel(futures)
        with contextlib.suppress(Exception):
            deadline = time.monotonic() + STOP_SECONDS
            while (
                self.client.status == "running"
                and time.monotonic() < deadline
                and any(self.client.processing().values())
            ):
                time.sleep(0.05)


@contextmanager
def dask_engine(address: str | None) -> Iterator[DaskEngine]:
    """A client of the scheduler at ``address``, or of a local cluster started for the run (one
    single-threaded worker process per core)."""
    require_extra()
    from distributed import Client, LocalCluster

    if address:
        hint = (
            "check --scheduler (or $DASK_SCHEDULER_ADDRESS), e.g. tcp://HOST:8786, and that 'dask scheduler' runs there"
        )
        if not ADDRESS.fullmatch(address):
            raise UsageError(f"--scheduler {address!r} is not a Dask scheduler address", hint=hint)
        try:
            client = Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}", hint=hint) from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKERS_SECONDS)
            except (TimeoutError, OSError):
                raise UsageError(
                    f"the Dask scheduler at {address} has no workers (waited {WORKERS_SECONDS} s)",
                    hint="start workers: dask worker ADDRESS",
                ) from None
            yield DaskEngine(client)
        finally:
            client.close()
        return
    cores = os.cpu_count() or 1
    log.info(
        "starting a local Dask cluster of %d worker process(es) for this run (about a minute; --scheduler ADDRESS "
        "uses a running one)",
        cores,
    )
    with (
        LocalCluster(
            n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        log.debug("started a local Dask cluster of %d worker(s): %s", cores, cluster.scheduler_address)
        yield DaskEngine(client)
