"""Progress of long work, reported by the core and shown (or not) by the caller.

The core never prints: functions that take long accept a ``progress`` callable and call it with a
stage name, the steps done so far and the total number of steps (``None`` when unknown, such as
rows of a file being streamed). The command line turns it into a progress bar on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, "int | None"], None]


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The default: nobody is watching."""
