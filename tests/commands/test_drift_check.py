"""drift-check through the CLI: exit codes, output contract, event log."""

from churnctl.registry import Registry
from churnctl.synthetic import Drift, simulate_customers

KEYS = {
    "kind",
    "test",
    "statistic",
    "p_value",
    "p_value_adjusted",
    "effect_size",
    "effect_metric",
    "psi",
    "missing_rate_reference",
    "missing_rate_current",
    "unseen_categories",
    "drift",
}


def test_no_drift_then_drift(cli, artifacts, tmp_path):
    a = ["--artifacts", artifacts]
    same = tmp_path / "same.csv"
    simulate_customers(3000, seed=501).to_csv(same, index=False)
    run = cli(*a, "drift-check", "--current", same, "--format", "json")
    assert run.code == 0, run.stdout
    doc = run.json()
    assert {
        "drift_detected",
        "status",
        "share_drifted",
        "n_reference",
        "n_current",
        "model_version",
        "features",
        "prediction_drift",
        "performance",
    } <= set(doc)
    assert doc["status"] == "no_drift" and doc["n_current"] == 3000 and doc["model_version"] == "v0001"
    for feature in doc["features"].values():
        assert set(feature) >= KEYS
    assert doc["performance"]["roc_auc"] > 0.7  # the target column was present

    shifted = tmp_path / "shifted.parquet"
    frame = simulate_customers(
        3000, seed=502, drift=Drift(shift={"Age": 6}, new_category={"Geography": ("Italy", 0.1)})
    )
    frame.drop(columns="Exited").to_parquet(shifted)
    run = cli(*a, "drift-check", "--current", shifted)
    assert run.code == 1
    assert "DRIFT DETECTED" in run.stdout and "Age" in run.stdout and "'Italy'" in run.stderr
    events = [e for e in Registry(artifacts).events() if e["event"] == "drift_checked"]
    assert [e["drift_detected"] for e in events] == [False, True]
    assert events[1]["model_version"] == "v0001" and "Age" in events[1]["drifted_features"]


def test_flags_and_settings(cli, artifacts, tmp_path):
    path = tmp_path / "small.csv"
    simulate_customers(60, seed=3).to_csv(path, index=False)
    run = cli("--artifacts", artifacts, "drift-check", "--current", path, "--format", "json")
    assert run.code == 0 and run.json()["status"] == "insufficient_data" and "at least 100" in run.stderr
    run = cli("--artifacts", artifacts, "drift-check", "--current", path, "--min-rows", "50", "--format", "json")
    assert run.json()["status"] in ("drift", "no_drift")
    assert cli("--artifacts", artifacts, "drift-check", "--current", path, "--correction", "holm").code == 2
    config = tmp_path / "c.toml"
    config.write_text('[drift]\nalpha = 0.01\ncorrection = "bonferroni"\n')
    doc = cli(
        "--artifacts",
        artifacts,
        "--config",
        config,
        "drift-check",
        "--current",
        path,
        "--min-rows",
        "10",
        "--format",
        "json",
    ).json()
    assert doc["alpha"] == 0.01 and doc["correction"] == "bonferroni"
    assert doc["prediction_drift"]["n_scored"] == 60  # every row of a small file is scored

    bigger = tmp_path / "bigger.csv"
    simulate_customers(5_000, seed=4).to_csv(bigger, index=False)
    config.write_text("[drift]\nscore_rows = 1000\n")
    a = ("--artifacts", artifacts, "--config", config, "drift-check", "--current", bigger)
    doc = cli(*a, "--format", "json").json()
    assert doc["n_current"] == 5_000 and 800 < doc["prediction_drift"]["n_scored"] < 1_200
    assert doc["performance"]["n_labelled"] == doc["prediction_drift"]["n_scored"]
    assert "rows scored, a uniform sample" in cli(*a).stdout
    config.write_text("[drift]\nscore_rows = 10\n")
    run = cli(*a)
    assert run.code == 2 and "score_rows" in run.stderr


def test_bad_inputs(cli, artifacts, tmp_path):
    a = ["--artifacts", artifacts]
    missing = tmp_path / "missing.csv"
    simulate_customers(200, seed=1).drop(columns=["Age", "Balance"]).to_csv(missing, index=False)
    run = cli(*a, "drift-check", "--current", missing)
    assert run.code == 3 and "'Age'" in run.stderr and "'Balance'" in run.stderr
    header_only = tmp_path / "h.csv"
    header_only.write_text(",".join(simulate_customers(1, seed=1).columns) + "\n")
    assert cli(*a, "drift-check", "--current", header_only).code == 3
    assert cli(*a, "drift-check", "--current", tmp_path / "nope.csv").code == 3
    assert cli("--artifacts", tmp_path / "empty", "drift-check", "--current", missing).code == 4
    assert cli(*a, "drift-check", "--current", missing, "--model", "v0099").code == 4
    bad = tmp_path / "bad.csv"
    frame = simulate_customers(200, seed=2)
    frame["Exited"] = frame["Exited"].map({0: "no", 1: "maybe"})
    frame.to_csv(bad, index=False)
    run = cli(*a, "drift-check", "--current", bad)
    assert run.code == 3 and "does not know" in run.stderr


def test_events_show_drift_checks_by_kind_and_time(cli, artifacts, tmp_path):
    a = ["--artifacts", artifacts]
    batch = tmp_path / "batch.csv"
    simulate_customers(500, seed=77).to_csv(batch, index=False)
    assert cli(*a, "drift-check", "--current", batch).code in (0, 1)
    checks = cli(*a, "events", "--kind", "drift_checked", "--format", "json").json()["events"]
    assert len(checks) == 1 and checks[0]["model_version"] == "v0001" and checks[0]["n_current"] == 500
    everything = cli(*a, "events", "--format", "json").json()["events"]
    assert [e["event"] for e in everything][:2] == ["dataset_added", "model_trained"]
    assert cli(*a, "events", "--limit", "1", "--format", "json").json()["events"] == everything[-1:]
    assert cli(*a, "events", "--since", "2999-01-01", "--format", "json").json()["events"] == []
    assert cli(*a, "events", "--since", checks[0]["time"], "--format", "json").json()["events"] == checks
    assert cli(*a, "events", "--since", "soon").code == 2


def test_compare_refuses_a_latest_dataset_of_another_target(cli, artifacts, tmp_path):
    other = simulate_customers(600, seed=78).rename(columns={"Exited": "Churned"})
    path = tmp_path / "other.csv"
    other.to_csv(path, index=False)
    assert cli("--artifacts", artifacts, "ingest", path, "--target", "Churned").code == 0
    run = cli("--artifacts", artifacts, "models", "compare", "v0001", "v0001")
    assert run.code == 2 and "has target Churned" in run.stderr and "--data" in run.stderr
