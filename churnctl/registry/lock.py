"""The registry lock: one writer at a time, and no manual clean-up after a crash.

It is an advisory ``flock`` on ``<artifacts>/.lock``. The kernel releases it when the holding process
exits for any reason, SIGKILL included, so a lock left by a dead process is simply free for the next
run. The holder writes its pid, host, start time and command into the file so that a refused run
can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churnctl.errors import ArtifactError, LockHeldError, os_hint
from churnctl.registry.files import read_regular


class RegistryLock:
    def __init__(self, path: Path, wait: float = 0.0, poll: float = 0.2, on_acquire: Callable[[], None] | None = None):
        self.path = path
        self.wait = wait
        self.poll = poll
        self.on_acquire = on_acquire  # called once the lock is held (the registry clears staging)
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        try:
            data, _, _ = read_regular(self.path, digest=False)
            info = json.loads(data or b"{}")
        except (ArtifactError, ValueError, RecursionError):
            return {}
        return info if isinstance(info, dict) else {}

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as exc:
            raise ArtifactError(
                f"cannot open the registry lock {self.path}: {exc.strerror}",
                hint=os_hint(exc, "check that the artifacts directory is writable and .lock is a plain file"),
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ArtifactError(f"the registry lock {self.path} is not a regular file", hint="remove it")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    info = self.holder()
                    who = (
                        f"pid {info.get('pid', '?')} on {info.get('host', '?')}, "
                        f"started {info.get('started', '?')}" + (f" ({info['command']})" if info.get("command") else "")
                    )
                    raise LockHeldError(
                        f"another churnctl run holds the registry lock {self.path}: {who}",
                        hint="wait for it to finish, or pass --wait SECONDS to queue behind it",
                    ) from None
                time.sleep(self.poll)
        self._fd = fd  # held from here on: released on any failure below
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:6])),
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            if self.on_acquire is not None:
                self.on_acquire()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RegistryLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
