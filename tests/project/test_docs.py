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


def test_readme_names_every_key_of_every_json_document(cli, artifacts, sim_csv, tmp_path):
    """Each top-level key of each command's JSON document (and of its first list item) appears in
    the README as "key" or `key`."""
    a = ["--artifacts", artifacts]
    version_dir = tmp_path / "v"
    commands = [
        ["evaluate"],
        ["train", "--model", "logreg"],
        ["ingest", sim_csv, "--target", "Exited", "--test-size", "0.3"],
        ["predict", "--input", sim_csv, "--output", tmp_path / "s.csv"],
        ["drift-check", "--current", sim_csv],
        ["models", "list"],
        ["models", "show"],
        ["models", "verify"],
        ["models", "history"],
        ["models", "compare", "v0001", "v0002", "--bootstrap", "20"],
        ["models", "promote", "v0001"],
        ["datasets", "list"],
        ["datasets", "show"],
        ["events", "--limit", "3"],
        ["retrain", "--data", sim_csv],
        ["simulate", "--rows", "200", "-o", version_dir / "sim.csv"],
    ]
    missing = set()
    for args in commands:
        run = cli(*a, *args, "--format", "json")
        assert run.code in (0, 1), (args, run.stderr)
        documents = [run.json()]
        documents += [v[0] for v in run.json().values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        for document in documents:
            for key in document:
                if f'"{key}"' not in README and f"`{key}`" not in README:
                    missing.add((args[0] if args[0] != "models" else f"models {args[1]}", key))
    assert not missing, "\n".join(f"{c}: {k}" for c, k in sorted(missing))


def test_the_readme_layout_table_names_every_module():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| module | lines | job |") :]
    modules = [p.relative_to(ROOT / "churnctl").as_posix() for p in (ROOT / "churnctl").rglob("*.py")]
    listed = [m for m in modules if not m.endswith("__init__.py") and m != "__main__.py"]
    missing = [m for m in listed if f"`{m}`" not in table and not m.startswith("cli/commands/")]
    assert not missing, missing
