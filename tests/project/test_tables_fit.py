"""Tables that fit ordinary terminals: at 80 and 120 columns no line runs off the edge and no id,
version, feature name or number is split across lines; less important columns fold away, saying so."""

import re

import pytest

from tests.conftest import ROOT

WORD = re.compile(r"(ds-[0-9a-f]{12}|v\d{4}|[A-Z][A-Za-z]+|\d+\.\d{4})")


@pytest.fixture
def busy(cli, artifacts):
    """The test registry with a second version and a drift check in its log."""
    a = ["--artifacts", artifacts]
    assert cli(*a, "train", "--model", "logreg").code == 0
    cli(*a, "drift-check", "--current", ROOT / "data" / "new_batch.csv")
    return a


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_and_never_split_an_id_or_a_name(cli, monkeypatch, busy, width):
    monkeypatch.setenv("COLUMNS", str(width))
    for args in (
        ["models", "list"],
        ["datasets", "list"],
        ["drift-check", "--current", ROOT / "data" / "new_batch.csv"],
        ["models", "history"],
        ["events", "--limit", "5"],
    ):
        run = cli(*busy, *args)
        assert run.code in (0, 1), run.stderr
        lines = run.stdout.splitlines()
        assert all(len(line) <= width for line in lines), (args, max(map(len, lines)))
        for table in re.split(r"\n(?=[^│┃┏┡└\n])", run.stdout):
            cells = [c.strip() for line in table.splitlines() if line.startswith(("│", "┃")) for c in line.split("│")]
            for cell in cells:  # the start of an id whose end went to the next line is a split
                assert not re.fullmatch(r"ds-[0-9a-f]{0,11}|v\d{0,3}", cell), (args, cell)
        json = cli(*busy, *args, "--format", "json")
        if json.code in (0, 1) and args[0] != "events":
            for word in set(WORD.findall(json.stdout)) & set(WORD.findall(run.stdout.replace("\n", " "))):
                assert word in run.stdout, (args, word)


def test_a_narrow_terminal_folds_columns_away_and_says_so(cli, monkeypatch, busy):
    monkeypatch.setenv("COLUMNS", "80")
    run = cli(*busy, "models", "list")
    assert "not shown on a terminal this narrow: created" in run.stdout
    monkeypatch.setenv("COLUMNS", "200")
    assert "not shown" not in cli(*busy, "models", "list").stdout
