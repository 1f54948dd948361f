"""The MLflow mirror against a real tracking server (SQLite backend, artifacts proxied, 127.0.0.1): a
train logs a run and registers a version; the champion alias follows retrain and rollback; the
registered and the exported models answer as churnctl predict does; a server down mid-run costs one
warning, and models sync mirrors it later exactly once. Without settings nothing MLflow is imported."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from churnctl.registry import Registry
from churnctl.synthetic import Drift, simulate_customers
from tests.conftest import EXAMPLE_ROW

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

CONFIG = """[train]
model = "logreg"
cv_folds = 3
[retrain]
bootstrap = 300
[mlflow]
tracking_uri = "{uri}"
experiment = "churn-tests"
registered_model = "churn-test"
timeout = 5
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def tracking_server(folder, port: int):
    """``mlflow server`` with a SQLite store, until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    mlflow_cli = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "mlflow"
    process = subprocess.Popen(
        [mlflow_cli, "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination",
         str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.3)
        else:
            pytest.fail("the MLflow server did not start")
        time.sleep(1.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def champion_version(uri: str) -> str:
    mv = client(uri).get_model_version_by_alias("churn-test", "champion")
    return mv.tags["churnctl_version"]


def args(folder):
    return ["--artifacts", folder / "artifacts", "--config", folder / "churnctl.toml"]


def setup(folder, uri: str) -> None:
    (folder / "churnctl.toml").write_text(CONFIG.format(uri=uri))
    simulate_customers(4000, seed=1).to_csv(folder / "customers.csv", index=False)


@pytest.mark.slow
def test_runs_models_and_the_champion_alias_follow_churnctl(cli, tmp_path, monkeypatch):
    port = free_port()
    with tracking_server(tmp_path / "server", port) as uri:
        setup(tmp_path, uri)
        assert cli(*args(tmp_path), "ingest", tmp_path / "customers.csv", "--target", "Exited").code == 0
        trained = cli(*args(tmp_path), "train", "--format", "json")
        assert trained.code == 0, trained.stderr
        assert "View run" not in trained.stdout and trained.json()["version"] == "v0001"  # stdout: one document
        registry = Registry(tmp_path / "artifacts")
        run_id = registry.model_manifest("v0001")["mlflow_run_id"]
        run = client(uri).get_run(run_id)
        metrics, params = run.data.metrics, run.data.params
        assert metrics["cv_roc_auc"] == pytest.approx(registry.model_manifest("v0001")["cv_roc_auc"])
        assert {"test_roc_auc", "test_pr_auc", "test_brier", "test_ece"} <= set(metrics)
        assert params["estimator"] == "logreg" and params["seed"] == "42" and "threshold_policy" in params
        assert run.data.tags["churnctl_version"] == "v0001" and run.data.tags["churnctl_mirrored"] == "true"
        [dataset] = run.inputs.dataset_inputs
        assert dataset.dataset.name == registry.model_manifest("v0001")["dataset_id"]
        names = {a.path for a in client(uri).list_artifacts(run_id, "churnctl")}
        assert names == {"churnctl/manifest.json", "churnctl/schema.json", "churnctl/evaluation.html"}
        assert champion_version(uri) == "v0001"

        # a retrain that promotes moves the alias, with champion/challenger figures on the run
        concept = tmp_path / "concept.csv"
        simulate_customers(3000, seed=10, drift=Drift(concept=1.0)).to_csv(concept, index=False)
        retrained = cli(*args(tmp_path), "retrain", "--data", concept, "--format", "json")
        assert retrained.code == 0 and retrained.json()["outcome"] == "promoted", retrained.stderr
        assert champion_version(uri) == "v0002"
        run2 = client(uri).get_run(registry.model_manifest("v0002")["mlflow_run_id"])
        assert "retrain_bootstrap_p_value" in run2.data.metrics and "retrain_challenger_roc_auc" in run2.data.metrics
        assert cli(*args(tmp_path), "models", "rollback").code == 0
        assert champion_version(uri) == "v0001"
        assert cli(*args(tmp_path), "models", "promote", "v0002").code == 0
        assert champion_version(uri) == "v0002"
        with pytest.raises(mlflow.exceptions.MlflowException):  # no challenger left: no stale alias
            client(uri).get_model_version_by_alias("churn-test", "challenger")

        # the champion and an exported directory answer as churnctl predict does
        batch = simulate_customers(500, seed=3)
        batch.to_csv(tmp_path / "batch.csv", index=False)
        assert (
            cli(*args(tmp_path), "predict", "--input", tmp_path / "batch.csv", "--output", tmp_path / "ours.csv").code
            == 0
        )
        ours = pd.read_csv(tmp_path / "ours.csv")
        features = pd.read_csv(tmp_path / "batch.csv").drop(columns=["Exited", "CustomerId"])
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # for models:/ URIs; undone after the test
        theirs = mlflow.pyfunc.load_model("models:/churn-test@champion").predict(features)
        for column in ("churn_probability", "churn_label", "risk_level", "confidence"):
            assert (theirs[column].to_numpy() == ours[column].to_numpy()).all(), column
        exported = cli(*args(tmp_path), "models", "export", "v0002", tmp_path / "exported", "--format", "mlflow")
        assert exported.code == 0, exported.stderr
        again = mlflow.pyfunc.load_model(str(tmp_path / "exported")).predict(features)
        pd.testing.assert_frame_equal(again.reset_index(drop=True), theirs.reset_index(drop=True))
        assert cli(*args(tmp_path), "models", "export", "v0002", tmp_path / "exported").code == 2  # exists

        # sync twice registers nothing twice
        synced = cli(*args(tmp_path), "models", "sync", "--format", "json")
        assert synced.code == 0 and synced.json()["logged"] == [] and synced.json()["already"] == ["v0001", "v0002"]
        versions = client(uri).search_model_versions("name='churn-test'")
        assert sorted(v.tags["churnctl_version"] for v in versions) == ["v0001", "v0002"]


@pytest.mark.slow
def test_a_server_down_costs_one_warning_and_sync_mirrors_it_once(cli, tmp_path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    setup(tmp_path, uri)
    assert cli(*args(tmp_path), "ingest", tmp_path / "customers.csv", "--target", "Exited").code == 0
    started = time.monotonic()
    trained = cli(*args(tmp_path), "train", "--format", "json")  # no server listens on the port
    assert trained.code == 0, trained.stderr
    assert time.monotonic() - started < 60  # no retry schedule of minutes
    warnings = [line for line in trained.stderr.splitlines() if "MLflow mirror" in line]
    assert len(warnings) == 1 and "churnctl models sync" in warnings[0], trained.stderr
    assert "does not answer" in warnings[0] and len(warnings[0]) < 300
    registry = Registry(tmp_path / "artifacts")
    assert "mlflow_run_id" not in registry.model_manifest("v0001")
    assert [e for e in registry.events() if e["event"] == "mlflow_not_mirrored"]
    down = cli(*args(tmp_path), "models", "sync")
    assert down.code == 4 and "MLflow mirror" in down.stderr and "Traceback" not in down.stderr
    with tracking_server(tmp_path / "server", port):
        first = cli(*args(tmp_path), "models", "sync", "--format", "json")
        assert first.code == 0 and first.json()["logged"] == ["v0001"], first.stderr
        second = cli(*args(tmp_path), "models", "sync", "--format", "json")
        assert second.json()["logged"] == [] and second.json()["champion"] == "v0001"
        versions = client(uri).search_model_versions("name='churn-test'")
        assert [v.tags["churnctl_version"] for v in versions] == ["v0001"]
        runs = client(uri).search_runs([client(uri).get_experiment_by_name("churn-tests").experiment_id])
        assert len(runs) == 1


def test_help_predict_and_a_promote_without_settings_import_nothing_of_mlflow(artifacts, tmp_path):
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    code = (
        "import sys\n"
        "from churnctl.cli.app import main\n"
        "def run(*a):\n"
        "    try:\n"
        "        main([*a])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"run('--help')\n"
        f"run('--artifacts', {str(artifacts)!r}, 'predict', '--json', {str(row)!r})\n"
        f"run('--artifacts', {str(artifacts)!r}, 'models', 'promote', 'v0001')\n"
        "print('MLFLOW', sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert "MLFLOW []" in run.stdout and '"churn_probability"' in run.stdout, run.stdout + run.stderr
    # with a tracking URI, predict --json still imports nothing of it
    env["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"
    code = code.replace("run('--artifacts', " + repr(str(artifacts)) + ", 'models', 'promote', 'v0001')\n", "")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert "MLFLOW []" in run.stdout, run.stdout + run.stderr
