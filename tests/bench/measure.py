"""Timing whole processes: wall time and peak RSS of a child, medians of alternating runs."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

# The wrapper process starts the command, waits for it and reports its exit code, its wall time
# (time.perf_counter around the child alone, not the wrapper's own start) and the peak RSS of its
# child (getrusage(RUSAGE_CHILDREN).ru_maxrss, KiB on Linux).
WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "seconds = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps([rc, seconds, rss]))\n"
)


class BenchError(Exception):
    """A command of the benchmark failed: the run stops with a non-zero exit."""


@dataclass
class Sample:
    seconds: float
    rss_mib: float
    returncode: int
    error: str = ""  # the last line of stderr, when the exit code was not acceptable


@dataclass
class Series:
    """The runs of one command: median and range of the wall time, largest peak RSS."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def low(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def high(self) -> float:
        return max(s.seconds for s in self.samples)

    @property
    def rss_mib(self) -> float:
        return max(s.rss_mib for s in self.samples)

    @property
    def returncodes(self) -> set[int]:
        return {s.returncode for s in self.samples}


@dataclass
class Command:
    """One command to time; ``ok`` are its acceptable exit codes. A command with ``optional`` set
    (the peer) records a failure instead of stopping the benchmark."""

    argv: list[str]
    ok: tuple[int, ...] = (0,)
    optional: bool = False


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(command: Command, env: dict[str, str], cwd: Path) -> Sample:
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command.argv], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )
    if out.returncode != 0:
        raise BenchError(f"the timing wrapper failed for {' '.join(command.argv)}:\n{out.stderr[-3000:]}")
    rc, seconds, rss = json.loads(out.stdout.strip().splitlines()[-1])
    error = ""
    if rc not in command.ok:
        message = f"exit {rc} from {' '.join(command.argv)}:\n{out.stderr[-3000:]}"
        if not command.optional:
            raise BenchError(message)
        log(f"  optional command failed, {message}")
        lines = [line.strip() for line in out.stderr.splitlines() if line.strip()]
        error = lines[-1][:300] if lines else ""
    return Sample(seconds, rss, rc, error)


def alternate(
    commands: dict[str, Command], repeats: int, env: dict[str, str], cwd: Path, label: str
) -> dict[str, Series]:
    """Run every command ``repeats`` times, interleaved: each round runs all of them once, and the
    order rotates from round to round, so that ours and its anchors share the machine's state.
    An optional command that failed once is not run again (its series keeps the failed sample)."""
    series = {name: Series() for name in commands}
    names = list(commands)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            command = commands[name]
            if command.optional and any(s.returncode not in command.ok for s in series[name].samples):
                continue
            sample = measure(command, env, cwd)
            series[name].samples.append(sample)
            log(
                f"  {label} round {round_ + 1}/{repeats}: {name} {sample.seconds:.2f} s, "
                f"{sample.rss_mib:.0f} MiB, exit {sample.returncode}"
            )
    return series


def succeeded(series: Series | None, command: Command) -> bool:
    return series is not None and bool(series.samples) and series.returncodes <= set(command.ok)


def _first_line_with(path: str, prefix: str) -> str:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(root: Path) -> list[tuple[str, str]]:
    """What the numbers were measured on, as (item, value) pairs."""
    mem_kib = _first_line_with("/proc/meminfo", "MemTotal").split()[0]
    memory = f"{int(mem_kib) / 2**20:.1f} GiB" if mem_kib.isdigit() else "unknown"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=root, check=False
    ).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("churnctl", "numpy", "scikit-learn", "scipy", "pandas", "pyarrow")
    )
    return [
        ("CPU", _first_line_with("/proc/cpuinfo", "model name")),
        ("cores", f"{os.cpu_count()} ({usable} usable by this process)"),
        ("RAM", memory),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("packages", versions),
        ("commit", commit or "unknown"),
        ("load average at start (1, 5, 15 min)", load),
    ]
