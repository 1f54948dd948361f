"""The README and --help stay true: every command is documented, with help text, and exit codes."""

import re

from churnctl.errors import EXIT_CODES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _commands():
    from churnctl.cli.app import app
    from churnctl.cli.commands.models import app as models_app

    top = [c.name or c.callback.__name__ for c in app.registered_commands]
    return top, [c.name for c in models_app.registered_commands]


def test_every_command_has_help_and_a_readme_example():
    _, models = _commands()
    from churnctl.cli.app import app

    for command in app.registered_commands:
        assert (command.callback.__doc__ or "").strip(), f"{command.name} has no help text"
        assert f"churnctl {command.name}" in README, f"README lacks an example of {command.name}"
    for name in models:
        assert f"churnctl models {name}" in README, f"README lacks an example of models {name}"


def test_readme_lists_every_exit_code():
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", README, re.M), f"exit code {code} missing from README"


def test_readme_quick_start_has_the_two_commands():
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick
