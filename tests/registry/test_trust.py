"""Registry trust, round two: what a signature binds (this registry, this registry's datasets), a
current pointer that agrees with the event log, and the refusals that used to be silent answers.

Each test states the attack or the mistake (as an adversarial review found it), then checks that it is
refused with the documented exit code and that nothing stored changed.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from churnctl.registry import Registry
from churnctl.registry.signing import KeySource
from tests.conftest import EXAMPLE_ROW, ROOT, copy_version
from tests.registry.test_security import snapshot


@pytest.fixture
def row(tmp_path) -> Path:
    path = tmp_path / "row.json"
    path.write_text(json.dumps(EXAMPLE_ROW))
    return path


@pytest.fixture
def inverted(tmp_path, sim_csv, cli, fast_config) -> Path:
    """Registry B, signed by the same key as every test registry: trained on inverted labels."""
    frame = pd.read_csv(sim_csv)
    frame["Exited"] = 1 - frame["Exited"]
    path = tmp_path / "inverted.csv"
    frame.to_csv(path, index=False)
    b = tmp_path / "registry-b"
    assert cli("--artifacts", b, "--config", fast_config, "ingest", path, "--target", "Exited").code == 0
    assert cli("--artifacts", b, "--config", fast_config, "train", "--model", "logreg").code == 0
    return b


def strip_binding(artifacts: Path) -> None:
    """Make ``artifacts`` look as a churnctl release before registry ids left it: manifests signed
    without an id, an unsigned pointer, no registry.json."""
    key = KeySource().get()
    for manifest in [*artifacts.glob("models/*/manifest.json"), *artifacts.glob("datasets/*/manifest.json")]:
        document = json.loads(manifest.read_text())
        document.pop("registry_id", None)
        manifest.write_text(json.dumps(key.sign(document)))
    pointer = json.loads((artifacts / "current.json").read_text())
    (artifacts / "current.json").write_text(json.dumps({k: pointer[k] for k in ("current", "history")}))
    (artifacts / "registry.json").unlink()
    events = [json.loads(line) for line in (artifacts / "events.jsonl").read_text().splitlines()]
    lines = [json.dumps({k: v for k, v in e.items() if k != "move"}) for e in events]
    (artifacts / "events.jsonl").write_text("\n".join(lines) + "\n")


# -- 1. a signed version from another registry --------------------------------------------------


def test_a_signed_version_from_another_registry_is_refused(cli, artifacts, inverted, row):
    """Critical: B's v0001 copied over A's v0001 used to answer A's predictions (0.048 -> 0.981)."""
    shutil.rmtree(artifacts / "models" / "v0001")
    shutil.copytree(inverted / "models" / "v0001", artifacts / "models" / "v0001")
    before = snapshot(artifacts)
    for args in (["predict", "--json", row], ["models", "list"], ["evaluate"], ["models", "show", "v0001"]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 4 and "belongs to another registry" in run.stderr and "v0001" in run.stderr, args
    verify = cli("--artifacts", artifacts, "models", "verify", "--format", "json")
    assert verify.code == 4 and "belongs to another registry" in verify.json()["problems"]["model v0001"]
    assert snapshot(artifacts) == before


def test_a_dataset_from_another_registry_is_refused(cli, artifacts, inverted):
    (theirs,) = Registry(inverted).dataset_ids()
    shutil.copytree(inverted / "datasets" / theirs, artifacts / "datasets" / theirs)
    run = cli("--artifacts", artifacts, "train", "--dataset", theirs)
    assert run.code == 4 and "belongs to another registry" in run.stderr


def test_a_model_of_a_dataset_this_registry_lacks_is_refused_even_before_ids(cli, artifacts, inverted, row):
    """In a registry written before ids (nothing bound), the dataset check still catches the copy."""
    strip_binding(artifacts)
    strip_binding(inverted)
    shutil.rmtree(artifacts / "models" / "v0001")
    shutil.copytree(inverted / "models" / "v0001", artifacts / "models" / "v0001")
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "which is not in" in run.stderr and "v0001" in run.stderr


def test_a_registry_written_before_ids_is_bound_by_its_next_writer(cli, artifacts, inverted, row):
    strip_binding(artifacts)
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 0  # readers take it as it was
    assert cli("--artifacts", artifacts, "models", "verify").code == 0
    assert cli("--artifacts", artifacts, "models", "promote", "v0001").code == 0  # any writer binds it
    registry = Registry(artifacts)
    registry_id = registry.identity()
    assert registry_id is not None
    manifests = [*artifacts.glob("models/*/manifest.json"), *artifacts.glob("datasets/*/manifest.json")]
    assert all(json.loads(m.read_text())["registry_id"] == registry_id for m in manifests)
    pointer = json.loads((artifacts / "current.json").read_text())
    assert pointer["registry_id"] == registry_id and "signature" in pointer
    assert cli("--artifacts", artifacts, "models", "verify").code == 0
    assert cli("--artifacts", artifacts, "predict", "--json", row).code == 0
    # a version signed before ids by the same key, copied in after the binding, is a stranger
    strip_binding(inverted)
    shutil.copytree(inverted / "models" / "v0001", artifacts / "models" / "v0002")
    manifest = json.loads((artifacts / "models" / "v0002" / "manifest.json").read_text())
    manifest["version"] = "v0002"
    (artifacts / "models" / "v0002" / "manifest.json").write_text(json.dumps(KeySource().get().sign(manifest)))
    run = cli("--artifacts", artifacts, "predict", "--json", row, "--model", "v0002")
    assert run.code == 4 and "not bound to this registry" in run.stderr


def test_a_missing_registry_id_is_never_recreated(cli, artifacts, row, sim_csv):
    (artifacts / "registry.json").unlink()
    before = snapshot(artifacts)
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "registry.json" in run.stderr
    run = cli("--artifacts", artifacts, "ingest", sim_csv, "--target", "Exited", "--seed", "5")
    assert run.code == 4 and "registry.json" in run.stderr
    assert snapshot(artifacts) == before and not (artifacts / "registry.json").exists()


def test_another_registrys_id_file_is_refused(cli, artifacts, inverted, row):
    shutil.copy(inverted / "registry.json", artifacts / "registry.json")
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "belongs to another registry" in run.stderr


# -- 3 and 4. the current pointer -----------------------------------------------------------------


def test_a_pointer_naming_a_missing_version_stops_train_before_anything_is_written(cli, artifacts):
    (artifacts / "current.json").write_text(json.dumps({"current": "v0009", "history": ["v0001", "v0009"]}))
    before = snapshot(artifacts)
    run = cli("--artifacts", artifacts, "train", "--model", "logreg")
    assert run.code == 4 and snapshot(artifacts) == before
    copy_version(artifacts, "v0002")
    registry = Registry(artifacts)
    with registry.lock():
        registry.set_current("v0002", repair=True)  # signed by churnctl, then the version folder is lost
    shutil.rmtree(artifacts / "models" / "v0002")
    before = snapshot(artifacts)
    run = cli("--artifacts", artifacts, "train", "--model", "logreg")
    assert run.code == 4 and "v0002, which is not stored" in run.stderr
    assert snapshot(artifacts) == before  # no version, no event "recorded by a later run"


def test_a_hand_edited_pointer_is_refused_and_never_becomes_history(cli, artifacts, row, sim_csv):
    copy_version(artifacts, "v0002")
    (artifacts / "current.json").write_text(json.dumps({"current": "v0002", "history": ["v0001", "v0002"]}))
    for args in (["predict", "--json", row], ["models", "verify", "--format", "json"]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 4 and "current.json" in (run.stderr + run.stdout) and "not signed" in run.stderr + run.stdout
    events = Registry(artifacts).events()
    assert cli("--artifacts", artifacts, "ingest", sim_csv, "--target", "Exited", "--seed", "9").code == 0
    added = Registry(artifacts).events()[len(events) :]
    assert [e["event"] for e in added] == ["dataset_added"]  # no model_promoted made up from the pointer
    assert cli("--artifacts", artifacts, "models", "promote", "v0002").code == 0  # the way to change it
    assert cli("--artifacts", artifacts, "models", "verify").code == 0
    assert cli("--artifacts", artifacts, "predict", "--json", row).json()["model_version"] == "v0002"


def test_an_older_pointer_put_back_is_reported_and_writers_refuse_it(cli, artifacts, row):
    copy_version(artifacts, "v0002")
    older = (artifacts / "current.json").read_bytes()
    assert cli("--artifacts", artifacts, "models", "promote", "v0002").code == 0
    (artifacts / "current.json").write_bytes(older)  # a signed pointer, but not the last one written
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 0 and "event log" in run.stderr and run.json()["model_version"] == "v0001"
    verify = cli("--artifacts", artifacts, "models", "verify", "--format", "json")
    assert verify.code == 4 and "current pointer" in verify.json()["problems"]
    before = snapshot(artifacts)
    for args in (["train", "--model", "logreg"], ["models", "rollback"]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 4 and "models promote" in run.stderr, args
    assert snapshot(artifacts) == before
    assert cli("--artifacts", artifacts, "models", "promote", "v0001").code == 0  # confirmed knowingly
    assert cli("--artifacts", artifacts, "models", "verify").code == 0


def test_a_deleted_pointer_is_not_a_first_model(cli, artifacts, row):
    (artifacts / "current.json").unlink()
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "current.json is missing" in run.stderr
    before = snapshot(artifacts)
    assert cli("--artifacts", artifacts, "train", "--model", "logreg").code == 4
    assert snapshot(artifacts) == before


# -- 5. the key -----------------------------------------------------------------------------------


def test_a_fifo_as_the_signing_key_is_refused_both_ways(artifacts, row, tmp_path):
    home = tmp_path / "home"
    (home / "churnctl").mkdir(parents=True)
    os.mkfifo(home / "churnctl" / "signing.key", 0o600)
    config = tmp_path / "c.toml"
    config.write_text(f"[security]\nkey_file = '{home / 'churnctl' / 'signing.key'}'\n")
    base = [sys.executable, "-m", "churnctl", "--artifacts", str(artifacts)]
    env = {**os.environ, "XDG_CONFIG_HOME": str(home)}
    for extra in ([], ["--config", str(config)]):
        argv = [*base, *extra, "predict", "--json", str(row)]
        run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "not a regular file" in run.stderr, (extra, run.stderr)


# -- 6. the prediction log --------------------------------------------------------------------------


def _record(inputs: dict, version: object = "v0001") -> str:
    output = {"churn_probability": 0.1, "churn_label": 0, "risk_level": "low", "confidence": 0.9}
    return json.dumps({"time": "2026-11-01T00:00:00Z", "model_version": version, "request": "r", "input": inputs,
                       "output": output})  # fmt: skip


@pytest.fixture
def good_records(sim_csv) -> list[str]:
    frame = pd.read_csv(sim_csv).head(500)
    return [_record({k: row[k] for k in EXAMPLE_ROW}) for row in frame.to_dict("records")]


def test_bad_prediction_log_records_are_skipped_and_counted(cli, artifacts, good_records, tmp_path):
    bad = [
        _record({"CustomerId": 7}),  # no features
        _record({**EXAMPLE_ROW, "Age": "forty"}),
        _record({**EXAMPLE_ROW, "Balance": 1e308}),
        _record({**EXAMPLE_ROW, "Age": [0] * 3_000_000}),
    ]
    strangers = [_record(EXAMPLE_ROW, "v0099"), _record(EXAMPLE_ROW, "v" * 100_000)]
    log = tmp_path / "predictions.jsonl"
    log.write_text("\n".join([bad[0], *good_records[:250], *bad[1:], *strangers, *good_records[250:]]) + "\n")
    run = cli("--artifacts", artifacts, "drift-check", "--current", log, "--format", "json")
    assert run.code in (0, 1), run.stderr
    doc = run.json()
    assert doc["n_current"] == 500  # the good records only
    assert "4 prediction log record(s) break the model's schema" in run.stderr
    assert "2 prediction log record(s) were answered by model versions this registry never had" in run.stderr
    assert "'v0099' (1 records)" in run.stderr and len(run.stderr) < 5_000  # the huge version is cut, not echoed


def test_a_log_of_mostly_bad_records_is_refused(cli, artifacts, good_records, tmp_path):
    log = tmp_path / "predictions.jsonl"
    log.write_text("\n".join([*good_records[:100], *[_record({**EXAMPLE_ROW, "Age": "x"})] * 20]) + "\n")
    run = cli("--artifacts", artifacts, "drift-check", "--current", log)
    assert run.code == 3 and "20 of 120 logged line(s)" in run.stderr


# -- 7. smaller refusals ----------------------------------------------------------------------------


def test_an_empty_id_is_refused_not_read_as_current(cli, artifacts, row):
    for args in (["predict", "--json", row, "--model", ""], ["models", "show", ""], ["train", "--dataset", ""]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 2 and "''" in run.stderr, args


@pytest.mark.parametrize(
    "target, mode", [("models/v0001", 0o777), ("models/v0001/model.joblib", 0o666), ("models", 0o777)]
)
def test_verify_and_predict_apply_one_rule_to_modes(cli, artifacts, row, target, mode):
    os.chmod(artifacts / target, mode)
    for args in (["predict", "--json", row], ["models", "verify"]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 4 and "lets other accounts change it" in (run.stderr + run.stdout), (target, args)


def test_damaged_event_lines_are_reported_by_the_readers_of_the_log(cli, artifacts):
    lines = (artifacts / "events.jsonl").read_text().splitlines()
    lines.insert(1, "{cut")
    lines.insert(3, "not an event")
    (artifacts / "events.jsonl").write_text("\n".join(lines) + "\n")
    for args in (["events"], ["models", "history"]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 0 and "2 line(s) are not events and were skipped (line 2, 4)" in run.stderr, args


def test_leftovers_of_killed_runs_are_removed_by_later_runs(cli, artifacts, sim_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead_output = out / ".scored.csv.999999999.k473gjtz.tmp"  # a kill -9 while writing scored.csv
    dead_folder = out / ".parts.staging-999999999-0a1b2c3d"
    dead_stdout = Path(tempfile.gettempdir()) / "churnctl-stdout-999999999-abc.csv"
    for path in (dead_output, dead_stdout):
        path.write_text("partial")
    dead_folder.mkdir()
    live = out / f".other.csv.{os.getpid()}.abcdefgh.tmp"
    live.write_text("being written")
    assert cli("--artifacts", artifacts, "predict", "--input", sim_csv, "--output", out / "another.csv").code == 0
    assert not dead_output.exists() and not dead_folder.exists() and live.exists()
    assert cli("--artifacts", artifacts, "predict", "--input", sim_csv).code == 0  # to stdout
    assert not dead_stdout.exists()


def test_empty_stdin_and_named_pipes_are_named_for_what_they_are(cli, artifacts, tmp_path):
    run = cli("--artifacts", artifacts, "predict", "--input", "-", stdin="")
    assert run.code == 3 and "standard input is empty" in run.stderr and tempfile.gettempdir() not in run.stderr
    run = cli("--artifacts", artifacts, "predict", "--json", "-", stdin="")
    assert run.code == 3 and "standard input is empty" in run.stderr
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    for args in (["predict", "--input", fifo], ["drift-check", "--current", fifo]):
        run = cli("--artifacts", artifacts, *args)
        assert run.code == 3 and "named pipe" in run.stderr and "0 bytes" not in run.stderr, args


def test_adopt_shows_what_changed_since_the_log_and_asks_for_it_by_name(cli, artifacts, row):
    path = artifacts / "models" / "v0001" / "manifest.json"
    manifest = json.loads(path.read_text())
    logged = manifest["threshold"]
    manifest["threshold"] = 0.9
    del manifest["signature"]
    path.write_text(json.dumps(manifest))
    run = cli("--artifacts", artifacts, "models", "adopt", "v0001", "--yes")
    assert run.code == 2 and f"threshold logged {logged!r}, stored 0.9" in run.stderr
    assert "--accept-changes v0001" in run.stderr and "signature" not in json.loads(path.read_text())
    run = cli("--artifacts", artifacts, "models", "adopt", "v0001", "--yes", "--accept-changes", "v0001")
    assert run.code == 0 and "threshold" in run.stdout
    assert cli("--artifacts", artifacts, "models", "verify").code == 0  # the adoption is the record now


def test_output_errors_exit_4_only_when_the_machine_failed():
    import errno

    from churnctl.errors import EXIT_ARTIFACT, EXIT_USAGE, output_error

    assert output_error("x", OSError(errno.ENOSPC, "full"), "").exit_code == EXIT_ARTIFACT
    assert output_error("x", OSError(errno.EIO, "io"), "").exit_code == EXIT_ARTIFACT
    assert output_error("x", OSError(errno.EACCES, "no"), "").exit_code == EXIT_USAGE
    assert output_error("x", OSError(errno.ENOTDIR, "file"), "").exit_code == EXIT_USAGE


def test_a_report_that_cannot_be_written_for_lack_of_space_is_exit_4(cli, artifacts, monkeypatch, tmp_path):
    import churnctl.data.outputs

    real = churnctl.data.outputs.os.replace

    def full(src, dst):
        if str(dst).endswith(".html"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(churnctl.data.outputs.os, "replace", full)
    run = cli("--artifacts", artifacts, "evaluate", "--report", tmp_path / "r.html")
    assert run.code == 4 and "disk is full" in run.stderr and not (tmp_path / "r.html").exists()
    assert stat.S_ISDIR(tmp_path.stat().st_mode) and not list(tmp_path.glob(".r.html.*"))
