"""Registry integrity and security, tried the way a clumsy user or an attacker would.

Each test states the attack or the mistake, then checks that it is refused with the documented
exit code, that nothing stored changed, and that no attacker code ran.
"""

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from churnctl.errors import ArtifactError, UsageError
from churnctl.registry import Registry, ids
from churnctl.registry.events import append_event, read_events
from churnctl.registry.signing import ENV_KEY, KeySource, default_key_path
from tests.conftest import EXAMPLE_ROW, ROOT, copy_version


@pytest.fixture
def row(tmp_path) -> Path:
    path = tmp_path / "row.json"
    path.write_text(json.dumps(EXAMPLE_ROW))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def add_second_version(artifacts: Path) -> None:
    """A second, signed version (v0002) made like train would, from v0001's files."""
    copy_version(artifacts, "v0002")


# -- canonical ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected", [("v0002", "v0002"), ("v2", "v0002"), ("2", "v0002"), ("V12", "v0012"), ("v12345", "v12345")]
)
def test_version_arguments_are_normalised(text, expected):
    assert ids.version_argument(text) == expected


@pytest.mark.parametrize(
    "text",
    ["v0002/", "models/v0002", "../datasets/ds-0123456789ab", "/etc", "v0", "", "v2.1", "v 2", "..", "v0002\n/x"],
)
def test_other_spellings_are_usage_errors(text):
    with pytest.raises(UsageError):
        ids.version_argument(text)


def test_trailing_slash_gets_a_did_you_mean():
    with pytest.raises(UsageError) as caught:
        ids.version_argument("v0002/")
    assert "did you mean v0002" in str(caught.value)


@pytest.mark.parametrize("value", ["v0002/", "../x", "/tmp/x", 5, None, "ds-0123", "v2"])
def test_stored_ids_must_be_canonical(value):
    with pytest.raises(ArtifactError):
        ids.stored_version(value, "a file")
    with pytest.raises(ArtifactError):
        ids.stored_dataset_id(value, "a file")


@pytest.mark.parametrize("argument", ["v0001/", "../datasets/x", "/tmp", "models/v0001"])
def test_promote_refuses_paths_and_changes_nothing(cli, artifacts, argument):
    before = snapshot(artifacts)
    run = cli("--artifacts", artifacts, "models", "promote", argument)
    assert run.code == 2 and "is not a model version" in run.stderr and "Traceback" not in run.stderr
    assert snapshot(artifacts) == before


def test_promote_with_a_trailing_slash_says_what_was_meant(cli, artifacts):
    run = cli("--artifacts", artifacts, "models", "promote", "v0001/")
    assert run.code == 2 and "did you mean v0001" in run.stderr


def test_dataset_and_model_options_refuse_paths(cli, artifacts, row):
    assert cli("--artifacts", artifacts, "train", "--dataset", "../models/v0001").code == 2
    assert cli("--artifacts", artifacts, "predict", "--json", row, "--model", "/tmp/x").code == 2
    assert cli("--artifacts", artifacts, "models", "show", "v0001/").code == 2
    assert cli("--artifacts", artifacts, "predict", "--json", row, "--model", "1").code == 0


@pytest.mark.parametrize(
    "pointer",
    [
        {"current": "v0001/", "history": ["v0001/"]},
        {"current": "../datasets", "history": []},
        {"current": "/tmp/evil", "history": []},
        {"current": "v0001", "history": ["v0001", "../../x"]},
    ],
)
def test_a_pointer_naming_a_path_is_damage_then_promote_repairs_it(cli, artifacts, row, pointer):
    (artifacts / "current.json").write_text(json.dumps(pointer))
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "is not a model version" in run.stderr
    run = cli("--artifacts", artifacts, "models", "promote", "v0001")
    assert run.code == 0, run.stderr
    assert json.loads((artifacts / "current.json").read_text())["current"] == "v0001"
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 0


def test_retrain_with_a_damaged_pointer_deletes_nothing(cli, artifacts, sim_csv, tmp_path):
    add_second_version(artifacts)
    copy_version(artifacts, "v0003")
    config = tmp_path / "keep.toml"
    config.write_text("[retrain]\nkeep_versions = 2\n")  # pruning would remove a version if it ran
    (artifacts / "current.json").write_text(json.dumps({"current": "v0001/", "history": ["v0001/"]}))
    run = cli("--artifacts", artifacts, "--config", config, "retrain", "--data", sim_csv, "--force")
    assert run.code == 4 and "is not a model version" in run.stderr
    assert Registry(artifacts).versions() == ["v0001", "v0002", "v0003"]


def test_prune_never_removes_the_current_model_whatever_names_it(artifacts):
    add_second_version(artifacts)
    copy_version(artifacts, "v0003")
    registry = Registry(artifacts)
    registry.set_current("v0002")  # history: v0001 (previous champion), v0002 (current)
    for protected in ("v0001", "v0002"):
        with pytest.raises(ArtifactError, match="current model or the previous champion"):
            registry.prune(protected)
    registry.prune("v0003")
    registry.rollback()  # back to v0001; v0002 is no longer protected
    # a link under another version number that resolves to the current model's folder
    os.symlink(artifacts / "models" / "v0001", artifacts / "models" / "v0007")
    with pytest.raises(ArtifactError, match="symbolic link"):
        registry.prune("v0007")
    registry.prune("v0002")  # not protected any more: pruned
    assert registry.versions() == ["v0001"] and (artifacts / "models" / "v0001" / "model.joblib").exists()
    (artifacts / "models" / "v0007").unlink()
    assert registry.next_version() == "v0004"  # numbers of pruned versions are never reused


def test_a_symlinked_version_folder_is_never_loaded(cli, artifacts, row, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(artifacts / "models" / "v0001", outside)
    os.symlink(outside, artifacts / "models" / "v0005")
    run = cli("--artifacts", artifacts, "predict", "--json", row, "--model", "v0005")
    assert run.code == 4 and "symbolic link" in run.stderr


# -- signatures ---------------------------------------------------------------------------------

MARKER = Path(tempfile.gettempdir()) / f"churnctl-attack-marker-{os.getpid()}"


class Payload:
    """A pickle that runs code when loaded: it creates MARKER."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def test_a_swapped_pickle_with_a_rewritten_checksum_never_runs(cli, artifacts, row, sim_csv):
    MARKER.unlink(missing_ok=True)
    folder = artifacts / "models" / "v0001"
    (folder / "model.joblib").write_bytes(pickle.dumps(Payload()))
    manifest = json.loads((folder / "manifest.json").read_text())
    import hashlib

    manifest["files"]["model.joblib"] = hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    run = cli("--artifacts", artifacts, "models", "verify")
    assert run.code == 4 and "modified after it was signed" in run.stdout
    for command in (
        ["predict", "--json", row],
        ["evaluate"],
        ["models", "promote", "v0001"],
        ["drift-check", "--current", sim_csv],
    ):
        run = cli("--artifacts", artifacts, *command)
        assert run.code == 4 and "modified after it was signed" in run.stderr, command
    assert not MARKER.exists(), "the attacker's pickle ran"


def test_an_edited_threshold_is_detected(cli, artifacts, row):
    path = artifacts / "models" / "v0001" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["threshold"] = 0.01
    path.write_text(json.dumps(manifest, indent=2))
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "modified after it was signed" in run.stderr
    assert cli("--artifacts", artifacts, "models", "verify").code == 4


def test_an_edited_dataset_manifest_is_detected(cli, artifacts):
    path = next((artifacts / "datasets").iterdir()) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["target"] = "Surname"
    path.write_text(json.dumps(manifest))
    run = cli("--artifacts", artifacts, "train")
    assert run.code == 4 and "modified after it was signed" in run.stderr


def test_a_manifest_copied_onto_another_version_is_detected(cli, artifacts, row):
    add_second_version(artifacts)
    shutil.copy(artifacts / "models" / "v0001" / "manifest.json", artifacts / "models" / "v0002" / "manifest.json")
    run = cli("--artifacts", artifacts, "predict", "--json", row, "--model", "v0002")
    assert run.code == 4 and "describes 'v0001'" in run.stderr


def test_another_key_is_refused_and_named(cli, artifacts, row, monkeypatch):
    monkeypatch.setenv(ENV_KEY, "a-completely-different-key-0123456789")
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "was signed with key" in run.stderr and ENV_KEY in run.stderr


def strip_signatures(artifacts: Path) -> None:
    for path in list(artifacts.glob("models/*/manifest.json")) + list(artifacts.glob("datasets/*/manifest.json")):
        manifest = json.loads(path.read_text())
        manifest.pop("signature")
        path.write_text(json.dumps(manifest, indent=2))


def test_an_unsigned_registry_is_adopted_once_and_knowingly(cli, artifacts, row):
    strip_signatures(artifacts)
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "is not signed" in run.stderr and "models adopt" in run.stderr
    before = snapshot(artifacts)
    run = cli("--artifacts", artifacts, "models", "adopt")
    assert run.code == 2 and "--yes" in run.stderr and "2 manifest(s)" in run.stderr
    assert snapshot(artifacts) == before
    run = cli("--artifacts", artifacts, "models", "adopt", "--yes", "--format", "json")
    assert run.code == 0 and len(run.json()["adopted"]) == 2
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 0
    assert cli("--artifacts", artifacts, "models", "verify").code == 0
    assert cli("--artifacts", artifacts, "models", "adopt", "--format", "json").json()["adopted"] == []
    assert any(e["event"] == "manifests_adopted" for e in Registry(artifacts).events())


def test_adopt_refuses_files_that_do_not_match_their_checksums(cli, artifacts):
    strip_signatures(artifacts)
    model = artifacts / "models" / "v0001" / "model.joblib"
    model.write_bytes(model.read_bytes() + b"x")
    run = cli("--artifacts", artifacts, "models", "adopt", "--yes")
    assert run.code == 4 and "SHA-256 mismatch" in run.stderr
    assert "signature" not in json.loads((artifacts / "models" / "v0001" / "manifest.json").read_text())


def test_adopt_refuses_a_manifest_that_loading_would_refuse(cli, artifacts):
    strip_signatures(artifacts)
    path = artifacts / "models" / "v0001" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["dataset_id"] = "../datasets/elsewhere"
    path.write_text(json.dumps(manifest))
    run = cli("--artifacts", artifacts, "models", "adopt", "v0001", "--yes")
    assert run.code == 4 and "dataset" in run.stderr and "Traceback" not in run.stderr
    assert "signature" not in json.loads(path.read_text())


# -- file permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o664, 0o646])
def test_a_model_file_others_can_change_is_not_loaded(cli, artifacts, row, mode):
    model = artifacts / "models" / "v0001" / "model.joblib"
    os.chmod(model, mode)
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "lets other accounts change it" in run.stderr and "chmod go-w" in run.stderr
    os.chmod(model, 0o644)
    os.chmod(model.parent, 0o777)
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 4


@pytest.mark.parametrize(
    "umask,file_mode,dir_mode",
    [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o644, 0o755), (0o000, 0o644, 0o755)],
)
def test_files_follow_the_umask_and_are_never_writable_by_others(cli, tmp_path, sim_csv, umask, file_mode, dir_mode):
    artifacts = tmp_path / "artifacts"
    config = tmp_path / "c.toml"
    config.write_text("[train]\ncv_folds = 2\nmodel = 'logreg'\n")
    previous = os.umask(umask)
    try:
        assert cli("--artifacts", artifacts, "--config", config, "ingest", sim_csv, "--target", "Exited").code == 0
        assert cli("--artifacts", artifacts, "--config", config, "train").code == 0
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(artifacts)): stat.S_IMODE(p.stat().st_mode) for p in artifacts.rglob("*")}
    for name, mode in modes.items():
        expected = dir_mode if (artifacts / name).is_dir() else file_mode
        assert mode == expected, f"{name}: {mode:04o} != {expected:04o}"
    assert "current.json" in modes and "models/v0001/manifest.json" in modes


def run_as_nobody(argv: list[str], key: str) -> tuple[int, str, str]:
    """Run churnctl in a forked child that has dropped to uid/gid 65534 (nobody).

    The child inherits the already imported interpreter, so only the registry's own files must be
    readable by the other account, as for a service account with its own Python.
    """
    import contextlib
    import io

    from churnctl.cli.app import main

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        out, err = io.StringIO(), io.StringIO()
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.environ[ENV_KEY] = key
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(argv)
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            err.write(repr(exc))
        finally:
            os.write(write_fd, json.dumps([code, out.getvalue(), err.getvalue()]).encode())
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    code, out, err = json.loads(payload)
    return code, out, err


def test_another_account_can_read_and_score(cli, artifacts, row):
    """A service account (here: nobody) scores from a registry that another user wrote and promoted."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another account")
    shared = Path(tempfile.mkdtemp(prefix="churnctl-shared-"))
    try:
        os.chmod(shared, 0o755)
        shutil.copytree(artifacts, shared / "artifacts")
        shutil.copy(row, shared / "row.json")
        os.chmod(shared / "row.json", 0o644)
        # a promotion rewrites current.json; every file must stay readable by the other account
        assert cli("--artifacts", shared / "artifacts", "models", "promote", "v0001", "--format", "json").code == 0
        assert (
            cli("--artifacts", shared / "artifacts", "predict", "--json", shared / "row.json").code == 0
        )  # warm imports
        key = default_key_path().read_text().strip()
        argv = ["--artifacts", str(shared / "artifacts"), "predict", "--json", str(shared / "row.json")]
        code, out, err = run_as_nobody(argv, key)
        assert code == 0, err
        assert 0.0 <= json.loads(out)["churn_probability"] <= 1.0
        code, out, err = run_as_nobody(["--artifacts", str(shared / "artifacts"), "models", "verify"], key)
        assert code == 0, err
        # ... but cannot change it: a permission problem with a hint, not an internal error
        code, out, err = run_as_nobody(["--artifacts", str(shared / "artifacts"), "models", "rollback"], key)
        assert code == 4 and "you lack permission" in err and "internal error" not in err, err
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# -- the key ------------------------------------------------------------------------------------


def test_the_key_file_is_created_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(UsageError, match="no signing key"):
        KeySource().get(create=False)  # a reader never creates one
    first = KeySource().get(create=True)
    path = tmp_path / "config" / "churnctl" / "signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert KeySource().get(create=True).key_id == first.key_id


def test_key_problems_are_usage_errors(cli, artifacts, row, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_KEY, "short")
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 2 and "at least 16" in run.stderr
    monkeypatch.delenv(ENV_KEY)
    key = tmp_path / "open.key"
    key.write_text("k" * 40)
    os.chmod(key, 0o644)
    config = tmp_path / "c.toml"
    config.write_text(f"[security]\nkey_file = '{key}'\n")
    run = cli("--artifacts", artifacts, "--config", config, "predict", "--json", row)
    assert run.code == 2 and "chmod 600" in run.stderr
    inside = artifacts / "signing.key"
    config.write_text("[security]\nkey_file = 'artifacts/signing.key'\n")  # relative to the settings file
    config.rename(artifacts.parent / "c.toml")
    run = cli("--artifacts", artifacts, "--config", artifacts.parent / "c.toml", "models", "promote", "v0001")
    assert run.code == 2 and "inside the artifacts directory" in run.stderr and not inside.exists()


# -- the audit line -----------------------------------------------------------------------------


def test_a_short_write_is_undone_and_reported(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    append_event(path, "first")
    size = path.stat().st_size
    real_write = os.write
    calls = []

    def cut(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, data[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", cut)
    with pytest.raises(ArtifactError, match="No space left"):
        append_event(path, "second", payload="x" * 300)
    monkeypatch.undo()
    assert path.stat().st_size == size and [e["event"] for e in read_events(path)] == ["first"]


@pytest.fixture
def small_disk():
    """Mount a tmpfs of the given size (bytes); unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounts = []

    def mount(size: int) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="churnctl-tmpfs-"))
        if (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
            ).returncode
            != 0
        ):
            folder.rmdir()
            pytest.skip("this machine does not allow mounting a tmpfs")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def fill(disk: Path) -> None:
    """Take every free byte of ``disk``."""
    with open(disk / "filler", "wb", buffering=0) as handle:
        for block in (1 << 16, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * block)
            except OSError:
                pass


def test_a_full_disk_never_leaves_a_cut_event_line(cli, artifacts, small_disk, sim_csv):
    size = sum(p.stat().st_size for p in artifacts.rglob("*") if p.is_file())
    disk = small_disk(size + (2 << 20))
    target = disk / "artifacts"
    shutil.copytree(artifacts, target)
    events = target / "events.jsonl"
    # Leave 100 bytes in the log's last page, then fill the disk: the next line is cut after 100 bytes.
    page = 4096
    pad = (page - 100 - events.stat().st_size % page) % page
    pad += page if pad < 40 else 0
    padding = {"event": "padding", "x": ""}
    padding["x"] = "p" * (pad - 1 - len(json.dumps(padding)))
    with open(events, "a") as handle:
        handle.write(json.dumps(padding) + "\n")
    assert events.stat().st_size % page == page - 100
    fill(disk)
    before = events.read_bytes()
    run = cli("--artifacts", target, "drift-check", "--current", sim_csv)
    # the verdict stands (a reader on a full disk), with a warning that its event is missing
    assert (run.code in (0, 1) and "DRIFT" in run.stdout) or "no drift" in run.stdout
    assert "cannot append to the event log" in run.stderr and "Traceback" not in run.stderr
    assert events.read_bytes() == before
    assert [e["event"] for e in read_events(events)][-1] == "padding"


# -- markup in names and values -----------------------------------------------------------------


def test_markup_in_column_names_and_values_prints_as_text(cli, tmp_path, sim_csv, fast_config):
    import pandas as pd

    frame = pd.read_csv(sim_csv)
    frame = frame.rename(columns={"Geography": "[/bold]Geo[red]"})
    frame["[/bold]Geo[red]"] = frame["[/bold]Geo[red]"].replace({"Spain": "[/bold]"})
    data = tmp_path / "markup.csv"
    frame.to_csv(data, index=False)
    artifacts = tmp_path / "artifacts"
    run = cli("--artifacts", artifacts, "--config", fast_config, "ingest", data, "--target", "Exited")
    assert run.code == 0, run.stderr
    assert "[/bold]Geo[red]" in run.stdout
    assert cli("--artifacts", artifacts, "--config", fast_config, "train", "--model", "logreg").code == 0
    shifted = frame.copy()
    shifted["[/bold]Geo[red]"] = "[/bold]"
    batch = tmp_path / "batch.csv"
    shifted.to_csv(batch, index=False)
    run = cli("--artifacts", artifacts, "--config", fast_config, "drift-check", "--current", batch)
    assert run.code == 1, run.stderr
    assert "[/bold]Geo[red]" in run.stdout and "DRIFT DETECTED" in run.stdout


# -- races and planted files (found by a review acting as an attacker) -------------------------


def test_a_file_swapped_in_staging_before_publishing_is_never_loaded(artifacts, row):
    """What is signed is the checksum of the bytes churnctl wrote, not of whatever the staged file
    holds when the version is published; a link planted in staging is neither listed nor followed."""
    from churnctl.model.loading import load_model

    MARKER.unlink(missing_ok=True)
    victim = artifacts.parent / "victim.txt"
    victim.write_text("secret")
    os.chmod(victim, 0o600)
    registry = Registry(artifacts)
    staged = registry.stage()
    source = artifacts / "models" / "v0001"
    for name in ("model.joblib", "reference.parquet", "reference_scores.parquet"):
        staged.write(name, (source / name).read_bytes())
    (staged.path / "model.joblib").unlink()
    (staged.path / "model.joblib").write_bytes(pickle.dumps(Payload()))  # the attacker's swap
    os.symlink(victim, staged.path / "zz_link")
    manifest = {
        k: v for k, v in json.loads((source / "manifest.json").read_text()).items() if k not in ("signature", "files")
    }
    manifest["version"] = "v0002"
    signed = registry.publish_model(staged, "v0002", manifest)
    assert sorted(signed["files"]) == ["model.joblib", "reference.parquet", "reference_scores.parquet"]
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        load_model(registry, "v0002")
    assert not MARKER.exists(), "the attacker's pickle ran"


def test_a_staging_link_is_removed_not_followed(artifacts, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(artifacts / ".staging", ignore_errors=True)
    os.symlink(elsewhere, artifacts / ".staging")
    registry = Registry(artifacts)
    with registry.lock():
        staged = registry.stage()
    assert staged.path.parent == artifacts / ".staging" and not (artifacts / ".staging").is_symlink()
    assert list(elsewhere.iterdir()) == []


def test_a_model_file_that_is_a_link_is_refused(cli, artifacts, row, tmp_path):
    model = artifacts / "models" / "v0001" / "model.joblib"
    copy = tmp_path / "same.joblib"
    shutil.copy(model, copy)  # identical bytes: only the link itself is wrong
    model.unlink()
    os.symlink(copy, model)
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "symbolic link" in run.stderr


def test_a_fifo_in_place_of_a_file_fails_instead_of_hanging(artifacts, sim_csv):
    reference = artifacts / "models" / "v0001" / "reference.parquet"
    reference.unlink()
    os.mkfifo(reference)
    run = subprocess.run(
        [sys.executable, "-m", "churnctl", "--artifacts", str(artifacts), "drift-check", "--current", str(sim_csv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 4 and "not a regular file" in run.stderr


def test_a_folder_in_place_of_a_listed_file_is_an_artifact_error(cli, artifacts):
    dataset = next((artifacts / "datasets").iterdir())
    (dataset / "test.parquet").unlink()
    (dataset / "test.parquet").mkdir()
    assert cli("--artifacts", artifacts, "evaluate").code == 4
    run = cli("--artifacts", artifacts, "models", "verify")
    assert run.code == 4 and "not a regular file" in run.stdout


@pytest.mark.parametrize("name", [".lock", "events.jsonl"])
def test_links_planted_as_lock_or_log_never_touch_their_target(cli, artifacts, row, sim_csv, tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch\n")
    (artifacts / name).unlink(missing_ok=True)
    os.symlink(victim, artifacts / name)
    promote = cli("--artifacts", artifacts, "models", "promote", "v0001")
    drift = cli("--artifacts", artifacts, "drift-check", "--current", sim_csv)
    assert 4 in (promote.code, drift.code)
    assert victim.read_text() == "do not touch\n"


def test_adopt_in_a_signed_directory_signs_only_what_is_named(cli, artifacts, row):
    """An attacker plants an unsigned version beside signed ones; the error never invites signing it
    wholesale, and only a named, well-formed version can be adopted."""
    MARKER.unlink(missing_ok=True)
    planted = artifacts / "models" / "v0009"
    shutil.copytree(artifacts / "models" / "v0001", planted)
    (planted / "model.joblib").write_bytes(pickle.dumps(Payload()))
    manifest = json.loads((planted / "manifest.json").read_text())
    manifest.pop("signature")
    manifest["version"] = "v0009"
    import hashlib

    manifest["files"]["model.joblib"] = hashlib.sha256((planted / "model.joblib").read_bytes()).hexdigest()
    (planted / "manifest.json").write_text(json.dumps(manifest))
    run = cli("--artifacts", artifacts, "predict", "--json", row, "--model", "v0009")
    assert run.code == 4 and "added or altered outside churnctl" in run.stderr
    run = cli("--artifacts", artifacts, "models", "adopt", "--yes")
    assert run.code == 2 and "name the ones you have checked" in run.stderr
    assert "signature" not in json.loads((planted / "manifest.json").read_text())
    assert not MARKER.exists()


def test_adopt_checks_a_manifest_like_a_signed_one(cli, artifacts):
    strip_signatures(artifacts)
    path = artifacts / "models" / "v0001" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["/etc/hostname"] = "0" * 64
    path.write_text(json.dumps(manifest))
    run = cli("--artifacts", artifacts, "models", "adopt", "v0001", "--yes")
    assert run.code == 4 and "not plain names" in run.stderr
    assert "signature" not in json.loads(path.read_text())


def test_a_named_adoption_signs_that_one_only(cli, artifacts, row):
    strip_signatures(artifacts)
    run = cli("--artifacts", artifacts, "models", "adopt", "v1", "--yes", "--format", "json")
    assert run.code == 0 and run.json()["adopted"] == ["v0001"]
    assert cli("--artifacts", artifacts, "evaluate").code == 4  # its dataset is still unsigned


# -- key handling -------------------------------------------------------------------------------


def test_a_key_file_of_another_account_or_readable_by_the_group_is_refused(cli, artifacts, row, tmp_path):
    key = tmp_path / "shared.key"
    key.write_text("k" * 40)
    config = tmp_path / "c.toml"
    config.write_text(f"[security]\nkey_file = '{key}'\n")
    os.chmod(key, 0o640)
    run = cli("--artifacts", artifacts, "--config", config, "predict", "--json", row)
    assert run.code == 2 and "chmod 600" in run.stderr
    if os.geteuid() == 0:
        os.chmod(key, 0o600)
        os.chown(key, 65534, 65534)
        run = cli("--artifacts", artifacts, "--config", config, "predict", "--json", row)
        assert run.code == 2 and "belongs to another account" in run.stderr


def test_a_new_key_is_created_with_private_folders(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    old = os.umask(0)
    try:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "a" / "b"))
        KeySource().get(create=True)
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "churnctl"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_writer_without_the_key_does_not_start_a_new_one(cli, artifacts, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "other-home"))
    before = snapshot(artifacts)
    run = cli("--artifacts", artifacts, "models", "promote", "v0001")
    assert run.code == 2 and "is signed with key" in run.stderr
    assert not (tmp_path / "other-home").exists() and snapshot(artifacts) == before


# -- damaged stored files are exit 4 or skipped, never exit 70 ----------------------------------


def test_a_malformed_signature_value_is_an_artifact_error(cli, artifacts, row):
    path = artifacts / "models" / "v0001" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["signature"]["value"] = "\u00e9"
    path.write_text(json.dumps(manifest))
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 4
    assert cli("--artifacts", artifacts, "models", "verify").code == 4


@pytest.mark.parametrize(
    "line",
    [
        '{"event": "retrain", "outcome": "rejected", "challenger": ["x"]}',
        '{"event": "models_pruned", "versions": [1]}',
        '{"event": "model_trained", "time": 5, "version": {"a": 1}}',
        '{"event": "retrain", "outcome": "skipped", "inputs": [{"processed": true}, 7]}',
        "[1, 2, 3]",
        "[" * 100_000,
    ],
)
def test_odd_event_lines_do_not_break_readers(cli, artifacts, line):
    with open(artifacts / "events.jsonl", "a") as handle:
        handle.write(line + "\n")
    for command in (["models", "list"], ["models", "history"], ["models", "history", "--format", "json"]):
        run = cli("--artifacts", artifacts, *command)
        assert run.code == 0, (command, run.stderr)


def test_a_junk_promotion_event_is_damage_not_an_order(cli, artifacts, sim_csv):
    with open(artifacts / "events.jsonl", "a") as handle:
        handle.write(json.dumps({"event": "retrain", "outcome": "promoted", "challenger": "../../x"}) + "\n")
    run = cli("--artifacts", artifacts, "retrain", "--data", sim_csv)
    assert run.code == 4 and "is not a model version" in run.stderr


def test_deeply_nested_json_in_the_pointer_is_an_artifact_error(cli, artifacts, row):
    (artifacts / "current.json").write_text("[" * 100_000)
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "Traceback" not in run.stderr


def test_emoji_codes_in_names_print_as_written(cli, tmp_path, sim_csv):
    import pandas as pd

    frame = pd.read_csv(sim_csv).rename(columns={"Tenure": ":warning:Tenure"})
    data = tmp_path / "emoji.csv"
    frame.to_csv(data, index=False)
    run = cli("--artifacts", tmp_path / "artifacts", "ingest", data, "--target", "Exited")
    assert run.code == 0 and ":warning:Tenure" in run.stdout
