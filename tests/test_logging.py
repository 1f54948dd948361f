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


def test_text_remains_the_default(cli, tmp_path):
    run = cli("--artifacts", tmp_path / "empty", "evaluate")
    assert run.code == 4 and run.stderr.startswith("churnctl: error: ")
