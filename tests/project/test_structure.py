"""The shape of the package: no import cycles (function-level imports included), small modules,
and a command-line layer that parses and renders only."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "churnctl"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """churnctl modules that ``name`` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` imports the submodule when there is one, else the package
            targets = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def test_no_import_cycles():
    graph = {name: imports_of(name) for name in MODULES}
    # A package's __init__ that re-exports a submodule is not a cycle with it.
    for name in MODULES:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".") or MODULES[name].name != "__init__.py"}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target] if target in path else [node, target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


# Which package may import which (top to bottom; a package also imports its own modules). The base
# modules (errors, config, logs, the package itself) are below everything.
BASE = {"churnctl", "churnctl.errors", "churnctl.config", "churnctl.logs"}
BASE |= {f"churnctl.config.{m}" for m in ("settings", "checks", "value")}  # the settings, a small package
LAYERS = {
    "cli": {
        "serve",
        "lifecycle",
        "monitoring",
        "drift",
        "reports",
        "value",
        "model",
        "data",
        "contract",
        "registry",
        "runtime",
        "synthetic",
    },
    "serve": {"model", "data", "contract", "registry", "runtime"},
    "lifecycle": {
        "mirror",
        "monitoring",
        "drift",
        "reports",
        "value",
        "model",
        "data",
        "contract",
        "registry",
        "runtime",
        "synthetic",
    },
    "reports": {"monitoring", "drift", "value", "model", "data", "contract", "runtime"},
    "mirror": {"model", "contract", "runtime"},  # MLflow, imported only when a mirror is asked for
    "monitoring": {"drift", "value", "model", "data", "contract", "runtime"},  # over time; never the registry
    "drift": {"value", "model", "data", "contract", "runtime"},  # never the registry: callers load what it needs
    "value": {"model", "data", "contract", "runtime"},  # the money of a campaign: never the registry
    "model": {"data", "contract", "registry", "runtime"},
    "data": {"contract", "registry", "runtime"},
    "contract": {"runtime"},
    "registry": {"runtime"},
    "runtime": set(),
    "synthetic": {"contract", "runtime"},
}
TOP_LEVEL = {"churnctl", "churnctl.__main__", "churnctl.errors", "churnctl.logs"} | BASE


def package_of(module: str) -> str | None:
    if module in BASE:
        return None
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def test_every_package_is_in_the_layer_table_and_the_top_level_is_small():
    packages = {package_of(name) for name in MODULES} - {None}
    assert packages == set(LAYERS), packages ^ set(LAYERS)
    top = {name for name in MODULES if package_of(name) is None}
    assert top <= TOP_LEVEL, top - TOP_LEVEL
    for package in LAYERS:
        assert ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text())), package


def test_imports_follow_the_layer_table():
    wrong = []
    for name in MODULES:
        own = package_of(name)
        if own is None:
            continue
        allowed = LAYERS[own] | {own}
        for target in imports_of(name):
            other = package_of(target)
            if other is None:
                if target not in BASE:
                    wrong.append(f"{name} -> {target}")
            elif other not in allowed:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports against the layer table:\n" + "\n".join(sorted(wrong))


MAX_BODY_LINES = 60
LONG_REASON = "# long: "


def test_functions_stay_short_or_say_why():
    """No function body over MAX_BODY_LINES lines (the docstring aside) without a reason written on
    the line above it (``# long: ...``)."""
    long = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body
            size = node.end_lineno - body[0].lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if size > MAX_BODY_LINES and not lines[first - 2].strip().startswith(LONG_REASON):
                long.append(f"{name}.{node.name}: {size} lines")
    assert not long, "functions over 60 lines without a reason:\n" + "\n".join(long)


def test_modules_stay_small():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_lifecycle_modules_do_not_import_each_other_except_what_retrain_runs():
    for name in MODULES:
        if name.startswith("churnctl.lifecycle.") and name != "churnctl.lifecycle.results":
            # results and the MLflow mirror are shared by every command that needs them
            siblings = {t for t in imports_of(name) if t.startswith("churnctl.lifecycle.")} - {
                "churnctl.lifecycle.results",
                "churnctl.lifecycle.mirror",
            }
            # retrain runs a drift check and a training, and decides between champion and challenger
            retrain = {"churnctl.lifecycle.train", "churnctl.lifecycle.drift_check", "churnctl.lifecycle.champion"}
            allowed = retrain if name == "churnctl.lifecycle.retrain" else set()
            if name == "churnctl.lifecycle.mirror":  # a mirrored version carries its evaluation report
                allowed = {"churnctl.lifecycle.evaluate"}
            assert siblings <= allowed, f"{name} imports {siblings - allowed}"


def test_help_does_not_load_the_numeric_stack():
    code = (
        "import sys\nfrom churnctl.cli.app import app\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'sklearn', 'scipy', 'pyarrow') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.strip() == "[]"


def test_compute_threads_take_idle_cores_and_never_spin():
    from churnctl.runtime.compute import compute_threads

    quiet = compute_threads({}, cores=2, load=0.1)
    assert quiet["OMP_NUM_THREADS"] == "2" and quiet["OMP_WAIT_POLICY"] == "PASSIVE"
    assert compute_threads({}, cores=2, load=1.7)["OMP_NUM_THREADS"] == "1"
    assert compute_threads({}, cores=8, load=3.2)["OMP_NUM_THREADS"] == "5"
    assert compute_threads({}, cores=2, load=9.0)["OMP_NUM_THREADS"] == "1"
    assert compute_threads({"CHURNCTL_THREADS": "3"}, cores=2, load=9.0)["MKL_NUM_THREADS"] == "3"
    assert compute_threads({"CHURNCTL_THREADS": "junk"}, cores=4, load=0.0)["OMP_NUM_THREADS"] == "4"
