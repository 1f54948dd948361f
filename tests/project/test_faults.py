"""Faults of the machine are the user's to fix: read-only and full file systems, an artifacts path
that is a file, unwritable outputs, signals, durability. Real mounts (tmpfs) where the machine allows
them (root, mount permitted), skipped with the reason where not; the same faults are also injected
in-process, which runs everywhere."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from churnctl.registry import Registry
from churnctl.synthetic import simulate_customers
from tests.conftest import EXAMPLE_ROW, ROOT


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file of a registry (the lock's contents aside) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"
    }


def _nothing_staged(root: Path) -> bool:
    staging = root / ".staging"
    return not staging.exists() or not any(staging.iterdir())


def _mount(where: Path, size: str) -> None:
    where.mkdir()
    try:
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
        subprocess.run(command, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the in-process fault tests cover the same paths")


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], check=False, capture_output=True)


@pytest.fixture
def read_only(tmp_path, artifacts):
    """The trained registry copied onto a tmpfs, then remounted read-only."""
    mount = tmp_path / "ro"
    _mount(mount, "20m")
    try:
        shutil.copytree(artifacts, mount / "artifacts")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
        yield mount / "artifacts"
    finally:
        _umount(mount)


def test_readers_answer_from_a_read_only_registry_and_writers_say_why_they_cannot(cli, read_only, sim_csv, tmp_path):
    a = ["--artifacts", read_only]
    before = _snapshot(read_only)
    drift = cli(*a, "drift-check", "--current", sim_csv, "--format", "json")
    assert drift.code in (0, 1) and drift.json()["n_current"] == 3000  # the verdict, not exit 70
    assert "drift_checked event was not added" in drift.stderr and "Read-only file system" in drift.stderr
    row = tmp_path / "row.json"
    row.write_text(__import__("json").dumps(EXAMPLE_ROW))
    assert cli(*a, "predict", "--json", row).code == 0
    assert cli(*a, "predict", "--input", sim_csv, "--output", tmp_path / "scored.csv").code == 0
    for args in (["evaluate"], ["models", "list"], ["models", "show"], ["models", "verify"], ["datasets", "list"]):
        run = cli(*a, *args)
        assert run.code == 0, (args, run.stderr)
    for args in (["train", "--model", "logreg"], ["ingest", sim_csv, "--target", "Exited"], ["models", "rollback"]):
        run = cli(*a, *args)
        assert run.code == 4, (args, run.stderr)
        assert "read-only" in run.stderr and "internal error" not in run.stderr
    assert _snapshot(read_only) == before


def test_a_full_disk_changes_nothing_stored_and_leaves_no_half_written_file(cli, tmp_path, artifacts):
    mount = tmp_path / "full"
    _mount(mount, "1600k")
    try:
        registry = mount / "artifacts"
        shutil.copytree(artifacts, registry)
        big = tmp_path / "big.csv"
        simulate_customers(60_000, seed=8).to_csv(big, index=False)
        before = _snapshot(registry)
        run = cli("--artifacts", registry, "ingest", big, "--target", "Exited")
        assert run.code == 4 and "No space left on device" in run.stderr and "disk is full" in run.stderr
        assert _snapshot(registry) == before and _nothing_staged(registry)
        out = mount / "scored.csv"
        run = cli("--artifacts", registry, "predict", "--input", big, "--output", out)
        assert run.code == 4 and "cannot write" in run.stderr and "disk is full" in run.stderr  # the machine failed
        assert sorted(p.name for p in mount.iterdir()) == ["artifacts"]  # no output, no temporary file
        assert cli("--artifacts", registry, "models", "verify").code == 0
    finally:
        _umount(mount)


def test_disk_full_in_process_while_a_version_is_written(cli, artifacts, monkeypatch):
    """The same fault injected into the registry's writes: runs where mounting is not allowed."""
    import churnctl.registry.files as files

    before = _snapshot(Path(artifacts))
    real_write = os.write
    written = [0]

    def filling_write(fd, data):
        written[0] += len(data)
        if written[0] > 20_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(files.os, "write", filling_write)
    run = cli("--artifacts", artifacts, "train", "--model", "logreg")
    monkeypatch.undo()
    assert run.code == 4 and "disk is full" in run.stderr
    assert _snapshot(Path(artifacts)) == before
    assert _nothing_staged(Path(artifacts))


def test_an_artifacts_path_that_is_a_file_is_an_artifact_problem(cli, sim_csv):
    for args in (["models", "list"], ["train"], ["ingest", sim_csv, "--target", "Exited"]):
        run = cli("--artifacts", sim_csv, *args)
        assert run.code == 4 and "is not a directory" in run.stderr, (args, run.stderr)


def test_outputs_that_cannot_be_written_are_usage_errors(cli, artifacts, sim_csv, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for output in (blocker / "scored.csv", Path("/proc/scored.csv")):
        run = cli("--artifacts", artifacts, "predict", "--input", sim_csv, "--output", output)
        assert run.code == 2 and "cannot write" in run.stderr and "internal error" not in run.stderr
    run = cli("simulate", "--rows", "100", "-o", blocker / "x.csv")
    assert run.code == 2 and "cannot write" in run.stderr


def test_stray_temporary_files_of_killed_runs_are_cleared_by_the_next_writer(cli, artifacts, sim_csv, tmp_path):
    out = tmp_path / "scored.csv"
    dead = tmp_path / ".scored.csv.999999999.abc123.tmp"  # a pid that does not exist
    alive = tmp_path / f".scored.csv.{os.getpid()}.def456.tmp"  # a live writer's
    for stray in (dead, alive):
        stray.write_text("partial")
    assert cli("--artifacts", artifacts, "predict", "--input", sim_csv, "--output", out).code == 0
    assert not dead.exists() and alive.exists() and out.exists()

    pointer_copy = Path(artifacts) / ".current.json.x1y2z3.tmp"
    pointer_copy.write_text("{")
    assert cli("--artifacts", artifacts, "train", "--model", "logreg").code == 0
    assert not pointer_copy.exists()


@pytest.fixture(scope="module")
def large_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("signals") / "large.csv"
    simulate_customers(400_000, seed=12).to_csv(path, index=False)
    return path


SIGNALS = [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]


@pytest.mark.parametrize("signum, code, word", SIGNALS)
def test_a_signal_during_a_batch_predict_leaves_no_output(artifacts, large_csv, tmp_path, signum, code, word):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "scored.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["--artifacts", str(artifacts), "predict", "--input", str(large_csv), "--output", str(out)]
    child = subprocess.Popen(
        [sys.executable, "-m", "churnctl", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not list(folder.glob(".scored.csv.*.tmp")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # well into the scoring
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    if child.returncode == 0:
        pytest.skip("the batch finished before the signal arrived")
    assert child.returncode == code and f"churnctl: {word}" in err.decode()
    assert list(folder.iterdir()) == []  # neither the output nor its temporary file


def test_every_file_of_a_version_is_synced_before_the_version_is_renamed_into_place(cli, artifacts, monkeypatch):
    """Power loss after the rename must not leave empty or cut files under a published manifest."""
    import churnctl.registry.files as files
    import churnctl.registry.store as store

    synced: set[str] = set()
    renamed: list[tuple[str, set[str]]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    def rename(src, dst):
        renamed.append((str(src), set(synced)))
        return real_rename(src, dst)

    def replace(src, dst):  # a synced temporary file replacing its target: the target is synced
        if str(Path(src).resolve()) in synced:
            synced.add(str(Path(dst).resolve()))
        return real_replace(src, dst)

    real_replace = os.replace
    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    monkeypatch.setattr(store.os, "rename", rename)
    assert cli("--artifacts", artifacts, "train", "--model", "logreg").code == 0
    monkeypatch.undo()
    version = Registry(artifacts).versions()[-1]
    folder = Path(artifacts) / "models" / version
    ((staged, synced_then),) = [(s, done) for s, done in renamed if ".staging" in s]
    for name in sorted(p.name for p in folder.iterdir()):
        assert str(Path(staged).resolve() / name) in synced_then, f"{name} renamed into place before it was synced"


def test_the_next_writer_adds_the_events_a_killed_run_did_not_log(cli, artifacts):
    from churnctl.registry.events import read_events

    log = Path(artifacts) / "events.jsonl"
    lost = ('"dataset_added"', '"model_promoted"')  # as if killed after each change, before its event
    kept = [line for line in log.read_text().splitlines() if not any(kind in line for kind in lost)]
    log.write_text("\n".join(kept) + "\n")
    registry = Registry(artifacts)
    (dataset,) = registry.dataset_ids()
    assert cli("--artifacts", artifacts, "train", "--model", "logreg").code == 0
    recovered = [e for e in read_events(log) if e.get("recovered")]
    assert [(e["event"], e.get("dataset_id") or e.get("version")) for e in recovered] == [
        ("dataset_added", dataset),
        ("model_promoted", "v0001"),
    ]
    assert cli("--artifacts", artifacts, "train", "--model", "logreg").code == 0
    assert len([e for e in read_events(log) if e.get("recovered")]) == 2  # nothing added twice


@pytest.mark.parametrize("name", [".lock", "events.jsonl"])
def test_a_registry_file_of_the_wrong_type_stops_writers_before_any_change(cli, artifacts, name):
    path = Path(artifacts) / name
    path.unlink(missing_ok=True)
    path.mkdir()
    before = _snapshot(Path(artifacts))
    run = cli("--artifacts", artifacts, "train", "--model", "logreg")
    assert run.code == 4 and name in run.stderr and "internal error" not in run.stderr
    assert _snapshot(Path(artifacts)) == before and Registry(artifacts).versions() == ["v0001"]


def test_an_odd_line_in_the_event_log_does_not_stop_writers(cli, artifacts):
    with open(Path(artifacts) / "events.jsonl", "a") as log:
        log.write('{"event": "model_trained", "version": ["v9"], "time": 5}\n')
        log.write('{"event": "model_promoted", "version": {"x": 1}}\n')
    run = cli("--artifacts", artifacts, "train", "--model", "logreg")
    assert run.code == 0, run.stderr
