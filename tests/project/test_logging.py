"""--log-format json: every line on stderr is one JSON object, errors included."""

import json

import pytest


def records(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    for record in parsed:
        assert {"time", "level", "message", "pid"} <= set(record) and record["time"].endswith("Z")
    return parsed


def test_log_lines_are_json_objects(cli, artifacts, tmp_path, sim_csv):
    run = cli("--log-format", "json", "-v", "--artifacts", artifacts, "drift-check", "--current", sim_csv)
    assert run.code in (0, 1), run.stderr
    logged = records(run.stderr)
    assert logged and {r["level"] for r in logged} <= {"debug", "info", "warning"}
    assert any(r["logger"].startswith("churnctl") for r in logged)


@pytest.mark.parametrize("how", ["option-before", "option-after", "environment"])
def test_an_error_is_one_json_line_with_its_exit_code_and_hint(cli, tmp_path, monkeypatch, how):
    (tmp_path / "empty").mkdir()
    args = ["--artifacts", tmp_path / "empty", "evaluate"]
    if how == "option-before":
        args = ["--log-format", "json", *args]
    elif how == "option-after":
        args = [*args, "--log-format", "json"]
    else:
        monkeypatch.setenv("CHURNCTL_LOG_FORMAT", "json")
    run = cli(*args)
    assert run.code == 4
    [error] = records(run.stderr)
    assert error["level"] == "error" and error["exit_code"] == 4 and error["hint"] and "model" in error["message"]
    assert error["logger"] == "churnctl"


def test_text_remains_the_default(cli, tmp_path):
    run = cli("--artifacts", tmp_path / "empty", "evaluate")
    assert run.code == 4 and run.stderr.startswith("churnctl: error: ")


@pytest.mark.parametrize("args", [["evaluate", "--bogus"], ["no-such-command"], ["drift-check"]])
def test_command_line_errors_are_json_lines_too(cli, tmp_path, args):
    run = cli("--log-format", "json", "--artifacts", tmp_path / "a", *args)
    assert run.code == 2
    [error] = records(run.stderr)
    assert error["level"] == "error" and error["exit_code"] == 2 and error["message"]


def test_exit_codes_are_kept_with_json_logs(cli, artifacts, tmp_path):
    from churnctl.synthetic import Drift, simulate_customers

    current = tmp_path / "older.csv"
    simulate_customers(2000, seed=3, drift=Drift(shift={"Age": 10})).to_csv(current, index=False)
    run = cli("--log-format", "json", "--artifacts", artifacts, "drift-check", "--current", current)
    assert run.code == 1 and "DRIFT DETECTED" in run.stdout
    records(run.stderr)
    assert cli("--log-format", "json", "--artifacts", artifacts, "models", "list").code == 0


def test_a_group_without_its_subcommand_says_what_is_missing(cli, tmp_path):
    run = cli("--log-format", "json", "--artifacts", tmp_path / "a", "models")
    [error] = records(run.stderr)
    assert run.code == 2 and error["message"]
