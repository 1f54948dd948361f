"""Registry safety: locking across real processes, integrity checks, crash leftovers, event log."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from churnctl.config import Settings, TrainSettings
from churnctl.contract.rows import read_rows
from churnctl.data.datasets import load_dataset
from churnctl.errors import LockHeldError
from churnctl.lifecycle.ingest import ingest
from churnctl.lifecycle.predict import predict_rows
from churnctl.lifecycle.train import train
from churnctl.model.loading import load_model
from churnctl.registry import Registry
from churnctl.registry.events import append_event, read_events
from tests.conftest import EXAMPLE_ROW, ROOT

HOLD_LOCK = """
import sys, time
from churnctl.registry import Registry
with Registry(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(60)
"""


def _hold_lock(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_held_by_another_process_then_freed_by_its_death(cli, artifacts, sim_csv):
    holder = _hold_lock(artifacts)
    try:
        run = cli("--artifacts", artifacts, "models", "promote", "v0001")
        assert run.code == 75
        assert f"pid {holder.pid}" in run.stderr and "started" in run.stderr
        with pytest.raises(LockHeldError), Registry(artifacts).lock(wait=0.3):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel released the dead holder's lock: no manual clean-up needed.
    assert cli("--artifacts", artifacts, "models", "promote", "v0001").code == 0


def test_wait_queues_behind_the_holder(artifacts):
    holder = _hold_lock(artifacts)
    try:
        started = time.monotonic()
        import threading

        threading.Timer(0.5, lambda: holder.send_signal(signal.SIGKILL)).start()
        with Registry(artifacts).lock(wait=20):
            assert time.monotonic() - started >= 0.4
    finally:
        holder.kill()
        holder.wait()


def test_tampered_model_is_refused(cli, artifacts, tmp_path):
    model = artifacts / "models" / "v0001" / "model.joblib"
    model.write_bytes(model.read_bytes() + b"\0")
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 4 and "was modified after it was written" in run.stderr
    assert cli("--artifacts", artifacts, "evaluate").code == 4
    assert cli("--artifacts", artifacts, "models", "promote", "v0001").code == 4


def test_tampered_dataset_is_refused(cli, artifacts):
    dataset = next((artifacts / "datasets").iterdir())
    (dataset / "train.parquet").write_bytes(b"garbage")
    run = cli("--artifacts", artifacts, "train")
    assert run.code == 4 and "modified" in run.stderr
    assert Registry(artifacts).versions() == ["v0001"]


def test_staging_leftovers_are_ignored_then_cleaned(artifacts):
    registry = Registry(artifacts)
    half = registry.staging_dir / "deadbeef"
    half.mkdir(parents=True)
    (half / "model.joblib").write_bytes(b"half")
    (registry.models_dir / "v0002").mkdir()  # a folder without manifest is not a version
    assert registry.versions() == ["v0001"]
    with registry.lock():
        pass
    assert not half.exists()
    assert registry.next_version() == "v0003"  # numbers are never reused


def test_event_log_skips_a_line_cut_by_a_crash(tmp_path):
    path = tmp_path / "events.jsonl"
    append_event(path, "one", a=1)
    with open(path, "a") as handle:
        handle.write('{"event": "cut sho')
    assert [e["event"] for e in read_events(path)] == ["one"]


def test_saved_model_predicts_like_the_trained_one(tmp_path, sim_csv):
    """Round trip: the pipeline in memory and the one loaded from disk give identical probabilities."""
    from churnctl.contract.frames import prepare_features
    from churnctl.model.search import select_and_fit

    settings = Settings(train=TrainSettings(cv_folds=3))  # as FAST_CONFIG: quality is not measured here
    registry = Registry(tmp_path / "a")
    ingested = ingest(registry, str(sim_csv), settings, target="Exited")
    trained = train(registry, settings, model="hgb")
    schema, train_rows, test = load_dataset(registry, ingested.dataset_id)
    X, _ = prepare_features(train_rows, schema)
    in_memory = select_and_fit(schema, X, train_rows["Exited"].to_numpy(), model="hgb", seed=42, folds=3).pipeline
    loaded = load_model(registry, trained.version)
    X_test, _ = prepare_features(test, schema)
    np.testing.assert_array_equal(in_memory.predict_proba(X_test), loaded.pipeline.predict_proba(X_test))
    np.testing.assert_array_equal(in_memory.predict(X_test), loaded.pipeline.predict(X_test))


def test_same_inputs_same_dataset_id_and_predictions(tmp_path, sim_csv):
    settings = Settings(train=TrainSettings(cv_folds=3))  # the whole model search, with fewer folds
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps([EXAMPLE_ROW, {**EXAMPLE_ROW, "Age": 60}]))
    results = []
    for name in ("a", "b"):
        registry = Registry(tmp_path / name)
        ingested = ingest(registry, str(sim_csv), settings, target="Exited", seed=5)
        train(registry, settings, model="auto", seed=5)
        scored = predict_rows(registry, settings, *read_rows(str(rows_file)))
        results.append((ingested.dataset_id, [p["churn_probability"] for p in scored.predictions]))
    assert results[0] == results[1]
    other = ingest(Registry(tmp_path / "c"), str(sim_csv), settings, target="Exited", seed=6)
    assert other.dataset_id != results[0][0]


def test_python_dash_m_and_console_script(tmp_path):
    run = subprocess.run([sys.executable, "-m", "churnctl", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "ingest" in run.stdout
    script = Path(sys.executable).parent / "churnctl"
    run = subprocess.run([str(script), "--artifacts", str(tmp_path), "models", "show"], capture_output=True, text=True)
    assert run.returncode == 4 and "Traceback" not in run.stderr
