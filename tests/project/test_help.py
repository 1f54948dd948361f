"""Help that looks finished: every command's help read as a new user reads it, at 80 and 120 columns."""

import re

import pytest

COMMANDS = [
    [],
    ["simulate"],
    ["ingest"],
    ["train"],
    ["evaluate"],
    ["predict"],
    ["drift-check"],
    ["retrain"],
    ["serve"],
    ["events"],
    ["models"],
    *[["models", c] for c in ("list", "show", "promote", "compare", "rollback", "history", "verify", "adopt")],
    ["datasets"],
    ["datasets", "list"],
    ["datasets", "show"],
]
RAW = re.compile(r"<(bool|str|int|float|path|text|list\[[^>]*\])>|\{[A-Za-z_]+\}")


def render(cli, monkeypatch, args, width):
    monkeypatch.setenv("COLUMNS", str(width))
    run = cli(*args, "--help")
    assert run.code == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "churnctl")
def test_help_has_no_raw_placeholders_or_stray_spaces(cli, monkeypatch, args, width):
    text = render(cli, monkeypatch, args, width)
    assert not RAW.search(text), RAW.search(text)
    assert not re.search(r"\w \.(\s|$)", text), re.search(r".{20}\w \.(\s|$)", text)
    assert all(len(line) <= width for line in text.splitlines())


def test_brackets_stars_and_defaults_survive_in_help(cli, monkeypatch):
    """Help texts are not markup: what they say in brackets is shown (an install command, defaults)."""
    assert "pip install 'churnctl[serve]'" in render(cli, monkeypatch, ["serve"], 120)
    ingest = render(cli, monkeypatch, ["ingest"], 120)
    assert "[default: 0.2]" in ingest and "[default: 42]" in ingest
    serve = render(cli, monkeypatch, ["serve"], 120)
    assert "[default: 127.0.0.1" in serve and "[default: 8000]" in serve
    assert "2026-11/*.parquet'" in render(cli, monkeypatch, ["evaluate"], 120)
    assert "--time-budget" in render(cli, monkeypatch, ["train"], 120)


def test_choices_are_shown_and_checked(cli, monkeypatch):
    assert "[bh|bonferroni]" in render(cli, monkeypatch, ["drift-check"], 120)
    assert "[hourly|daily]" in render(cli, monkeypatch, ["serve"], 120)
    assert "[auto|logreg|hgb|blend]" in render(cli, monkeypatch, ["train"], 120)
    assert "[bank|telco|usage]" in render(cli, monkeypatch, ["simulate"], 120)
    assert cli("train", "--model", "forest").code == 2
    assert cli("drift-check", "--current", "x.csv", "--correction", "holm").code == 2


def test_the_cli_choices_match_the_library():
    from churnctl.cli.commands.simulate import ProfileName
    from churnctl.cli.commands.train import ModelFamily
    from churnctl.model.estimators import MODEL_CHOICES
    from churnctl.synthetic import PROFILES

    assert [m.value for m in ModelFamily] == list(MODEL_CHOICES)
    assert [p.value for p in ProfileName] == list(PROFILES)


def test_every_command_line_in_a_command_list_is_a_whole_sentence(cli, monkeypatch):
    for group in ([], ["models"], ["datasets"]):
        text = render(cli, monkeypatch, group, 80)
        assert "..." not in text.split("Commands")[-1]


def test_no_option_states_its_default_twice():
    """An option whose help says '(default: …)' does not also get Click's '[default: …]'."""
    import click
    import typer

    from churnctl.cli.app import app

    def walk(command):
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    twice = [
        f"{command.name} {param.name}"
        for command in walk(typer.main.get_command(app))
        for param in command.params
        if isinstance(param, click.Option)
        and "(default" in (param.help or "")
        and param.show_default not in (False, None)
        and param.default is not None
    ]
    assert not twice, twice
