"""How many compute threads a churnctl process uses.

Cron runs overlap (a drift-check while a retrain trains). OpenMP threads that wait by spinning for
cores another process holds are the worst case: on 2 cores, two concurrent trainings with spinning
threads took 11 minutes instead of 13 s, and two concurrent 1M-row drift-checks 73 s instead of
15 s. So threads that wait, sleep (``OMP_WAIT_POLICY=PASSIVE``), and a run takes only the cores
that are idle when it starts: all of them on a quiet machine (a 1M-row drift-check: 14 s -> 8 s on
2 cores), one when the load average says the others are busy. Results do not depend on the number
of threads.

``CHURNCTL_THREADS`` (a number, or ``auto``) overrides the choice; ``OMP_NUM_THREADS`` and the
other library variables, when set, are left as they are.
"""

from __future__ import annotations

from collections.abc import Mapping

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def compute_threads(environ: Mapping[str, str], cores: int, load: float) -> dict[str, str]:
    """The thread settings to use (as environment variables) for a process started now."""
    wanted = environ.get("CHURNCTL_THREADS", "auto").strip().lower()
    if wanted.isdigit() and int(wanted) > 0:
        threads = int(wanted)
    else:  # auto: the cores the load average leaves idle, at least one
        threads = max(1, min(cores, int(cores - load + 0.5)))
    return {"OMP_WAIT_POLICY": "PASSIVE", **{name: str(threads) for name in THREAD_VARIABLES}}
