"""Every command through the CLI: exit code, stdout, stderr, and the registry state after."""

import json

import pandas as pd
import pytest

from churnctl.registry import Registry
from tests.conftest import EXAMPLE_ROW


def test_help_lists_commands_and_exit_codes(cli):
    run = cli("--help")
    assert run.code == 0
    for command in ("simulate", "ingest", "train", "evaluate", "predict", "drift-check", "models"):
        assert command in run.stdout
    assert "75 another run holds the registry lock" in " ".join(run.stdout.split())


def test_unknown_option_is_a_usage_error(cli):
    run = cli("train", "--bogus")
    assert run.code == 2 and run.stdout == ""


def test_simulate_writes_file(cli, tmp_path):
    out = tmp_path / "s.parquet"
    run = cli("simulate", "--rows", "200", "--seed", "3", "--output", out, "--format", "json")
    assert run.code == 0 and run.json()["rows"] == 200
    frame = pd.read_parquet(out)
    assert len(frame) == 200 and "Exited" in frame.columns
    assert cli("simulate", "--rows", "10", "--output", out, "--shift", "Nope=1").code == 2


def test_ingest_train_evaluate_predict_lifecycle(cli, tmp_path, sim_csv, fast_config):
    art = tmp_path / "art"
    base = ["--artifacts", art, "--config", fast_config]
    run = cli(*base, "ingest", sim_csv, "--target", "Exited", "--format", "json")
    assert run.code == 0, run.stderr
    ingested = run.json()
    assert ingested["created"] and ingested["n_train"] + ingested["n_test"] == 3000
    assert {e["name"] for e in ingested["excluded"]} == {"CustomerId"}

    again = cli(*base, "ingest", sim_csv, "--target", "Exited", "--format", "json").json()
    assert again["dataset_id"] == ingested["dataset_id"] and not again["created"]
    registry = Registry(art)
    assert registry.dataset_ids() == [ingested["dataset_id"]]

    run = cli(*base, "train", "--model", "hgb", "--format", "json")
    assert run.code == 0, run.stderr
    trained = run.json()
    assert trained["version"] == "v0001" and trained["promoted"] and registry.current() == "v0001"
    assert 0 < trained["threshold"] < 1 and trained["cv_roc_auc"] > 0.75

    run = cli(*base, "evaluate", "--format", "json")
    metrics = run.json()
    for key in (
        "roc_auc",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "brier",
        "log_loss",
        "confusion_matrix",
        "threshold",
        "top_decile_lift",
        "n_rows",
        "model_version",
    ):
        assert key in metrics
    assert metrics["n_rows"] == ingested["n_test"] and metrics["roc_auc"] == trained["test_metrics"]["roc_auc"]

    row = tmp_path / "row.json"
    row.write_text(json.dumps({**EXAMPLE_ROW, "CustomerId": 777}))
    run = cli(*base, "predict", "--json", row)
    assert run.code == 0 and run.stderr == ""
    prediction = run.json()
    assert prediction["CustomerId"] == 777 and prediction["model_version"] == "v0001"
    assert 0 <= prediction["churn_probability"] <= 1 and prediction["churn_label"] in (0, 1)
    assert prediction["risk_level"] in ("low", "medium", "high") and 0 <= prediction["confidence"] <= 1

    # A second model is not promoted without --promote.
    trained2 = cli(*base, "train", "--model", "logreg", "--format", "json").json()
    assert trained2["version"] == "v0002" and not trained2["promoted"] and registry.current() == "v0001"
    listing = cli(*base, "models", "list", "--format", "json").json()["models"]
    assert [(m["version"], m["status"]) for m in listing] == [("v0001", "current"), ("v0002", "not_promoted")]
    assert cli(*base, "models", "promote", "v0002").code == 0 and registry.current() == "v0002"
    assert cli(*base, "predict", "--json", row).json()["model_version"] == "v0002"
    assert cli(*base, "models", "rollback").code == 0 and registry.current() == "v0001"
    again = cli(*base, "models", "rollback")  # nothing left to roll back to: said so, not a damaged registry
    assert again.code == 2 and "nothing to roll back to: v0001 is the first model that was current" in again.stderr

    events = [e["event"] for e in registry.events()]
    assert events == [
        "dataset_added",
        "model_trained",
        "model_promoted",
        "model_trained",
        "model_promoted",
        "model_rolled_back",
    ]


def test_text_outputs_render(cli, artifacts, tmp_path):
    a = ["--artifacts", artifacts]
    for args in (["models", "list"], ["models", "show", "v0001"], ["evaluate"]):
        run = cli(*a, *args)
        assert run.code == 0 and run.stdout.strip(), (args, run.stderr)
    assert "ROC-AUC" in cli(*a, "evaluate").stdout


def test_predict_batch_to_stdout_and_files(cli, artifacts, sim_csv, tmp_path):
    a = ["--artifacts", artifacts]
    run = cli(*a, "predict", "--input", sim_csv)
    assert run.code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "CustomerId,churn_probability,churn_label,risk_level,confidence,model_version"
    assert len(lines) == 3001
    out = tmp_path / "scored.parquet"
    summary = cli(*a, "predict", "--input", sim_csv, "--output", out, "--format", "json").json()
    scored = pd.read_parquet(out)
    assert summary["n_rows"] == len(scored) == 3000
    assert sum(summary["risk_levels"].values()) == 3000
    assert cli(*a, "predict", "--input", sim_csv, "--format", "json").code == 2


def test_risk_levels_follow_the_model_threshold(cli, artifacts, sim_csv, tmp_path):
    a = ["--artifacts", artifacts]
    threshold = Registry(artifacts).model_manifest("v0001")["threshold"]
    scored = pd.read_csv(__import__("io").StringIO(cli(*a, "predict", "--input", sim_csv).stdout))
    p, level = scored["churn_probability"], scored["risk_level"]
    assert ((level == "low") == (scored["churn_label"] == 0)).all()  # never a predicted churner at low risk
    high = threshold + (1 - threshold) / 2  # "auto": halfway between the threshold and 1
    assert (level[p >= high + 1e-6] == "high").all()
    assert (level[(p >= threshold + 1e-6) & (p < high - 1e-6)] == "medium").all()
    assert set(level) == {"low", "medium", "high"}
    # high risk confidence is at least 0.5 on the churn side: the same terms as `confidence`
    assert (scored.loc[level == "high", "confidence"] >= 0.5 - 1e-6).all()

    config = tmp_path / "c.toml"
    config.write_text(f"[predict]\nhigh_risk = {threshold + 0.01}\n")
    cut = cli(*a, "--config", config, "predict", "--input", sim_csv)
    levels = pd.read_csv(__import__("io").StringIO(cut.stdout))["risk_level"]
    assert (levels == "high").sum() > (level == "high").sum()
    config.write_text(f"[predict]\nhigh_risk = {threshold / 2}\n")
    below = cli(*a, "--config", config, "predict", "--input", sim_csv)
    assert below.code == 2 and "not above model v0001's decision threshold" in below.stderr and below.stdout == ""
    config.write_text('[predict]\nhigh_risk = "very"\n')
    assert cli(*a, "--config", config, "models", "list").code == 2
    config.write_text("[predict]\nrisk_bands = [0.3, 0.6]\n")
    old = cli(*a, "--config", config, "models", "list")
    assert old.code == 2 and "high_risk" in old.stderr


def test_predict_json_and_batch_agree(cli, artifacts, sim_csv, tmp_path):
    a = ["--artifacts", artifacts]
    frame = pd.read_csv(sim_csv).head(5)
    rows = tmp_path / "rows.json"
    rows.write_text(frame.to_json(orient="records"))
    from_json = cli(*a, "predict", "--json", rows).json()
    batch = tmp_path / "five.csv"
    frame.to_csv(batch, index=False)
    from_csv = pd.read_csv(__import__("io").StringIO(cli(*a, "predict", "--input", batch).stdout))
    assert [r["churn_probability"] for r in from_json] == pytest.approx(from_csv["churn_probability"].tolist())


@pytest.mark.parametrize(
    "rows,code,message",
    [
        ({k: v for k, v in EXAMPLE_ROW.items() if k not in ("Age", "Tenure")}, 3, "lacks 2 feature column(s)"),
        ({**EXAMPLE_ROW, "Age": "abc"}, 3, "column 'Age' expects numbers, found 'abc' in row 1"),
        ([EXAMPLE_ROW, {**EXAMPLE_ROW, "Balance": [1]}], 3, "'Balance' expects numbers"),
        ({**EXAMPLE_ROW, "Geography": {"name": "France"}}, 3, "'Geography' expects a category"),
    ],
)
def test_predict_rejects_bad_rows(cli, artifacts, tmp_path, rows, code, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(rows))
    run = cli("--artifacts", artifacts, "predict", "--json", path)
    assert run.code == code and message in run.stderr and run.stdout == ""
    assert "Traceback" not in run.stderr


def test_predict_unseen_category_and_extra_columns(cli, artifacts):
    row = {**EXAMPLE_ROW, "Geography": "Italy", "Unrelated": "x"}
    run = cli("--artifacts", artifacts, "predict", "--json", "-", stdin=json.dumps(row))
    assert run.code == 0
    assert "'Geography'" in run.stderr and "'Italy'" in run.stderr
    assert "churn_probability" in run.json()


def test_predict_bad_json_and_wrong_usage(cli, artifacts, tmp_path):
    a = ["--artifacts", artifacts]
    assert cli(*a, "predict", "--json", "-", stdin="{not json").code == 3
    assert cli(*a, "predict", "--json", tmp_path / "missing.json").code == 3
    assert cli(*a, "predict").code == 2
    assert cli(*a, "predict", "--json", "-", "--model", "v0042", stdin="{}").code == 4


def test_nothing_trained_is_an_artifact_error(cli, tmp_path):
    a = ["--artifacts", tmp_path / "empty"]
    (tmp_path / "empty").mkdir()
    for args in (["train"], ["evaluate"], ["predict", "--json", "-"], ["models", "show"]):
        run = cli(*a, *args, stdin="{}")
        assert run.code == 4, (args, run.stderr)
        assert "churnctl: error:" in run.stderr and "hint:" in run.stderr
    run = cli(*a, "models", "rollback")
    assert run.code == 2 and "nothing to roll back to: no model is current" in run.stderr
    assert cli(*a, "models", "list", "--format", "json").json()["models"] == []


def test_a_missing_artifacts_folder_is_named_by_every_reader(cli, tmp_path, sim_csv):
    a = ["--artifacts", tmp_path / "typo"]
    for args in (["models", "list"], ["predict", "--json", "-"], ["evaluate"], ["events"], ["datasets", "list"]):
        run = cli(*a, *args, stdin="{}")
        assert run.code == 4 and "the artifacts directory" in run.stderr and "does not exist" in run.stderr, args
    assert not (tmp_path / "typo").exists()
    assert cli(*a, "ingest", sim_csv, "--target", "Exited").code == 0  # a writer creates it


BAD_FILES = {
    "empty.csv": b"",
    "header_only.csv": b"a,b,Exited\n",
    "one_class.csv": b"a,b,Exited\n" + b"".join(b"%d,x,0\n" % i for i in range(30)),
    "no_target.csv": b"a,b\n1,2\n3,4\n",
    "dupes.csv": b"a,a,Exited\n1,2,0\n3,4,1\n",
    "no_feature.csv": b"id,Exited\n" + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(30)),
    "latin1.csv": "a,b,Exited\n1,Málaga,0\n2,Köln,1\n".encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_ingest_rejects_bad_files_and_changes_nothing(cli, artifacts, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    before = sorted(p.relative_to(artifacts) for p in artifacts.rglob("*"))
    run = cli("--artifacts", artifacts, "ingest", path, "--target", "Exited")
    assert run.code == 3, run.stderr
    assert run.stderr.startswith("churnctl: error:") and "Traceback" not in run.stderr
    after = sorted(p.relative_to(artifacts) for p in artifacts.rglob("*") if ".staging" not in p.parts)
    assert after == [p for p in before if ".staging" not in p.parts]


def test_config_file_and_flags(cli, tmp_path, sim_csv):
    config = tmp_path / "churnctl.toml"
    config.write_text('[data]\ntarget = "Exited"\ntest_size = 0.3\n[train]\ncv_folds = 3\n')
    a = ["--artifacts", tmp_path / "art", "--config", config]
    ingested = cli(*a, "ingest", sim_csv, "--format", "json").json()
    assert ingested["n_test"] == 900
    flagged = cli(*a, "ingest", sim_csv, "--test-size", "0.25", "--format", "json").json()
    assert flagged["n_test"] == 750 and flagged["dataset_id"] != ingested["dataset_id"]
    config.write_text("[train]\ncv_fold = 3\n")
    run = cli(*a, "train")
    assert run.code == 2 and "cv_fold" in run.stderr
    assert cli("--config", tmp_path / "nope.toml", "models", "list").code == 2


def test_artifacts_from_environment(cli, artifacts, monkeypatch):
    monkeypatch.setenv("CHURNCTL_ARTIFACTS", str(artifacts))
    assert cli("models", "list", "--format", "json").json()["models"][0]["version"] == "v0001"


def test_every_json_row_needs_every_feature(cli, artifacts):
    rows = [EXAMPLE_ROW, {"Age": 3}]
    run = cli("--artifacts", artifacts, "predict", "--json", "-", stdin=json.dumps(rows))
    assert run.code == 3 and "row 2 lacks 9 feature column(s)" in run.stderr
    ok = [EXAMPLE_ROW, {**EXAMPLE_ROW, "Age": None}]
    assert cli("--artifacts", artifacts, "predict", "--json", "-", stdin=json.dumps(ok)).code == 0


@pytest.mark.parametrize(
    "config,message",
    [
        ("[data]\ntarget = 5\ntest_size = 1.5\n", "test_size"),
        ("[train]\nreference_rows = 0\n", "reference_rows"),
        ("[train]\nthreshold = 1\n", "threshold"),
        ("[retrain]\nwindow_rows = 0\n", "window_rows"),
        ("[retrain]\nholdout = 0\n", "holdout"),
        ('[drift]\ncorrection = "holm"\n', "correction"),
        # settings that would silently disable a rule (a nan margin promotes nothing)
        ("[drift]\nalpha = nan\n", "expected a finite number"),
        ("[retrain]\nmin_improvement = nan\n", "expected a finite number"),
        ("[retrain]\nmin_roc_auc = inf\n", "expected a finite number"),
        ("[drift]\nnumeric_effect = -0.1\n", "numeric_effect = -0.1 is out of range"),
        ("[drift]\nmin_drifted_share = 1.5\n", "min_drifted_share = 1.5 is out of range"),
        ("[data]\ntest_size = 0.999\n", "test_size = 0.999 is out of range"),
        ("[drift]\nseed = -1\n", "[drift] seed = -1 is out of range"),
        ("[train]\nseed = 4294967296\n", "[train] seed = 4294967296 is out of range"),
    ],
)
def test_out_of_range_settings_are_usage_errors(cli, tmp_path, config, message):
    path = tmp_path / "c.toml"
    path.write_text(config)
    run = cli("--config", path, "--artifacts", tmp_path / "a", "models", "list")
    assert run.code == 2 and message in run.stderr


def test_damaged_registry_files_are_artifact_errors(cli, artifacts):
    (artifacts / "models" / "v0001" / "manifest.json").write_text("{bad")
    for command in (["models", "list"], ["models", "show", "v0001"], ["evaluate"]):
        run = cli("--artifacts", artifacts, *command)
        assert run.code == 4 and "cannot read" in run.stderr, command
    (artifacts / "current.json").write_text('["v0001"]')
    assert cli("--artifacts", artifacts, "predict", "--json", "-", stdin=json.dumps(EXAMPLE_ROW)).code == 4


def test_global_options_are_taken_after_the_command_too(cli, artifacts, tmp_path):
    from churnctl.cli.app import hoist_global_options

    assert hoist_global_options(["predict", "--json", "r.json", "-q", "--artifacts", "a"]) == [
        "-q",
        "--artifacts",
        "a",
        "predict",
        "--json",
        "r.json",
    ]
    assert hoist_global_options(["--config", "c.toml", "models", "list", "--artifacts=x"]) == [
        "--config",
        "c.toml",
        "--artifacts=x",
        "models",
        "list",
    ]
    assert hoist_global_options(["predict", "--", "-q"]) == ["predict", "--", "-q"]
    row = tmp_path / "row.json"
    row.write_text(json.dumps(EXAMPLE_ROW))
    run = cli("predict", "--json", row, "--artifacts", artifacts, "-q", "--format", "json")
    assert run.code == 0 and run.json()["model_version"] == "v0001" and run.stderr == ""


def test_with_format_json_an_error_is_also_a_json_document_on_stdout(cli, artifacts, tmp_path):
    run = cli("--artifacts", artifacts, "predict", "--json", tmp_path / "missing.json", "--format", "json")
    assert run.code == 3 and "does not exist" in run.stderr
    error = run.json()["error"]
    assert error["code"] == 3 and "does not exist" in error["message"] and error["hint"]
    usage = cli("--artifacts", artifacts, "predict", "--no-such-flag", "--format", "json")
    assert usage.code == 2 and usage.json()["error"]["code"] == 2
    assert cli("--artifacts", artifacts, "predict", "--json", tmp_path / "missing.json").stdout == ""


def test_a_closed_pipe_ends_the_run_quietly_with_exit_0(artifacts, sim_csv):
    import subprocess
    import sys

    from tests.conftest import ROOT

    command = f"{sys.executable} -m churnctl --artifacts {artifacts} predict --input {sim_csv} | head -1"
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.startswith("CustomerId,churn_probability") and done.stderr == ""


def test_predict_reads_and_writes_standard_streams_and_json_lines(cli, artifacts, sim_csv, tmp_path):
    a = ["--artifacts", artifacts]
    head = "".join(sim_csv.read_text().splitlines(keepends=True)[:6])  # header and five customers
    run = cli(*a, "predict", "--input", "-", "--output", "-", stdin=head)
    assert run.code == 0 and run.stdout.splitlines()[0].startswith("CustomerId,churn_probability")
    assert len(run.stdout.splitlines()) == 6
    frame = pd.read_csv(sim_csv).drop(columns="Exited").head(3)
    lines = "\n".join(json.dumps(r) for r in frame.to_dict(orient="records")) + "\n"
    from_lines = cli(*a, "predict", "--json", "-", "--format", "jsonl", stdin=lines)
    records = [json.loads(line) for line in from_lines.stdout.splitlines()]
    assert from_lines.code == 0 and len(records) == 3
    as_array = cli(*a, "predict", "--json", "-", stdin=frame.to_json(orient="records")).json()
    assert [r["churn_probability"] for r in records] == [r["churn_probability"] for r in as_array]
    bad_line = cli(*a, "predict", "--json", "-", stdin=lines + "[1, 2]\n")
    assert bad_line.code == 3 and "line 4" in bad_line.stderr
    assert cli(*a, "predict", "--input", sim_csv, "--format", "jsonl").code == 2


def test_json_input_must_be_utf8_and_may_start_with_a_byte_order_mark(cli, artifacts, tmp_path):
    a = ["--artifacts", artifacts]
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(EXAMPLE_ROW).encode())
    assert cli(*a, "predict", "--json", bom).code == 0
    latin = tmp_path / "latin.json"
    latin.write_bytes(json.dumps({**EXAMPLE_ROW, "Geography": "X"}).replace('"X"', '"Espa\xf1a"').encode("latin-1"))
    run = cli(*a, "predict", "--json", latin)
    assert run.code == 3 and "is not UTF-8 text" in run.stderr and "iconv" in run.stderr
    unreadable = cli(*a, "predict", "--json", "/proc/self/mem")  # exists, but reading it fails
    assert unreadable.code == 3 and "cannot read /proc/self/mem" in unreadable.stderr


def test_version_and_shell_completion(cli, monkeypatch):
    import shellingham

    import churnctl

    run = cli("--version")
    assert run.code == 0 and run.stdout.strip() == f"churnctl {churnctl.__version__}"
    assert "--install-completion" in cli("--help").stdout
    monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))  # whatever runs the tests
    shown = cli("--show-completion")
    assert shown.code == 0 and "complete" in shown.stdout and "churnctl" in shown.stdout


def test_a_huge_cell_is_shown_shortened_in_messages(cli, artifacts, tmp_path):
    row = tmp_path / "big.json"
    row.write_text(json.dumps({**EXAMPLE_ROW, "Age": 0}).replace('"Age": 0', '"Age": 1' + "0" * 5000))
    run = cli("--artifacts", artifacts, "predict", "--json", row)
    assert run.code == 3 and "expects numbers" in run.stderr and "(5001 characters)" in run.stderr
    assert len(run.stderr) < 400


def test_every_json_document_starts_with_its_schema_version(cli, artifacts, sim_csv, tmp_path):
    a = ["--artifacts", artifacts]
    commands = [
        ["evaluate"],
        ["models", "show"],
        ["models", "verify"],
        ["datasets", "show"],
        ["drift-check", "--current", sim_csv],
        ["predict", "--input", sim_csv, "--output", tmp_path / "s.csv"],
    ]
    for args in commands:
        run = cli(*a, *args, "--format", "json")
        assert run.code in (0, 1) and next(iter(run.json())) == "schema_version", args
        assert run.json()["schema_version"] == 1
    for args, key in ((["models", "list"], "models"), (["models", "history"], "history"), (["events"], "events")):
        doc = cli(*a, *args, "--format", "json").json()
        assert list(doc) == ["schema_version", key] and isinstance(doc[key], list), args


def test_tables_never_break_a_number_in_a_narrow_terminal():
    from rich.console import Console

    from churnctl.cli.render import table

    narrow = Console(width=32, record=True)  # rich alone would fold the number here
    rows = [["AVeryLongFeatureNameIndeed", 12345.678901, "a b c d e f g"]]
    narrow.print(table("t", ["feature", "statistic", "notes"], rows))
    text = narrow.export_text()
    assert "12345.6789" in text  # on one line, whole
    assert text.splitlines()[1].endswith("┓") and "a b c" in text  # nothing cropped: the names fold instead


def test_feature_importance_is_ranked_in_the_text_outputs(cli, artifacts):
    from churnctl.registry import Registry

    manifest = Registry(artifacts).model_manifest("v0001")
    shares, spreads = manifest["feature_importance"], manifest["feature_importance_std"]
    assert set(shares) == set(spreads) and sum(shares.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in spreads.values())
    top = max(shares, key=shares.get)
    for command in (["evaluate"], ["models", "show", "v0001"]):
        run = cli("--artifacts", artifacts, *command)
        assert run.code == 0, run.stderr
        assert "Feature importance" in run.stdout
        ranked = [line for line in run.stdout.splitlines() if f" {top} " in line and "%" in line]
        assert ranked and ranked[0].strip("│┃ ").startswith("1 ")
    doc = cli("--artifacts", artifacts, "evaluate", "--format", "json").json()
    assert doc["feature_importance"] == shares and doc["feature_importance_std"] == spreads
