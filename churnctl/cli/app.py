"""The ``churnctl`` root command: global options, command registration, errors -> exit codes."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import os
import signal
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer

import churnctl
from churnctl.cli.commands import (
    datasets,
    drift_check,
    evaluate,
    events,
    ingest,
    labels,
    models,
    monitor,
    predict,
    retrain,
    serve,
    simulate,
    train,
)
from churnctl.cli.context import State
from churnctl.config import load_settings
from churnctl.errors import (
    EXIT_ARTIFACT,
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_USAGE,
    ChurnctlError,
    Interrupted,
    PipeClosed,
    os_hint,
    os_reason,
)
from churnctl.logs import configure_logging, json_log_line
from churnctl.runtime.compute import compute_threads

# Compute threads, decided before numpy and scikit-learn load (see compute_threads).
for _variable, _value in compute_threads(os.environ, os.cpu_count() or 1, os.getloadavg()[0]).items():
    os.environ.setdefault(_variable, _value)

EPILOG = "Exit codes: " + "; ".join(f"{code} {text.split(':')[0]}" for code, text in sorted(EXIT_CODES.items()))

app = typer.Typer(
    name="churnctl",
    help="Run the whole life of a customer-churn model: simulate, ingest, train, evaluate, predict, "
    "and manage model versions, all in one versioned artifacts directory.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


# Verbosity and log format of this run, for the error handler in main() (outside any Typer context).
_verbosity = 0
_json_logs = False


class LogFormat(StrEnum):
    text = "text"
    json = "json"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"churnctl {churnctl.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    artifacts: Annotated[
        Path,
        typer.Option(
            "--artifacts",
            envvar="CHURNCTL_ARTIFACTS",
            help="Artifacts directory (datasets, models, events).",
            show_default=True,
        ),
    ] = Path("artifacts"),
    config: Annotated[
        Optional[Path],
        typer.Option("--config", help="Settings file (default: $CHURNCTL_CONFIG, else ./churnctl.toml if present)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail on stderr; tracebacks for internal errors.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar="CHURNCTL_LOG_FORMAT",
            help="stderr as text lines or one JSON object per line (for log shipping from cron).",
        ),
    ] = LogFormat.text,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    global _verbosity, _json_logs
    _verbosity = 1 if verbose else (-1 if quiet else 0)
    _json_logs = log_format == LogFormat.json
    configure_logging(_verbosity, _json_logs)
    # Settings are read here: a broken settings file is a usage error for every command, read or write.
    ctx.obj = State(
        artifacts=artifacts, config=config, verbosity=_verbosity, json_logs=_json_logs, _settings=load_settings(config)
    )


app.command("simulate")(simulate.simulate_command)
app.command("ingest")(ingest.ingest_command)
app.command("train")(train.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("predict")(predict.predict_command)
app.command("drift-check")(drift_check.drift_check_command)
app.command("retrain")(retrain.retrain_command)
app.command("serve")(serve.serve_command)
app.command("events")(events.events_command)
app.command("monitor")(monitor.monitor_command)
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")
app.add_typer(labels.app, name="labels")


# How help names an option's value when its declaration does not (Click would say TEXT or INTEGER).
METAVARS = {
    "host": "HOST",
    "port": "PORT",
    "seed": "SEED",
    "wait": "SECONDS",
    "time_budget": "SECONDS",
    "test_size": "SHARE",
    "alpha": "P",
    "since": "DATE",
    "scheduler": "ADDRESS",
    "log_keep_days": "DAYS",
    "model": "VERSION",
    "dataset": "DATASET",
    "current": "INPUT",
    "input": "INPUT",
    "data": "INPUT",
    "json_rows": "FILE",
    "output": "PATH",
    "report_file": "FILE.html",
}
TYPE_METAVARS = {"int": "N", "float": "NUMBER", "path": "PATH", "str": "TEXT"}


def polish_help(command: Any) -> Any:
    """Name every value in help as people expect to read it: a flag shows no value, a choice its
    choices (``[text|json]``), any other option a word for what it takes (``SECONDS``, ``PORT``, ``N``)
    and an argument its name in capitals (``FILE``), instead of a Python type (``<bool>``, ``<str>``).
    ``command`` is Typer's Click command (Typer carries its own Click: matched by shape, not class)."""
    for param in command.params:
        choices, kind = _value_kind(param)
        if param.param_type_name == "option":
            if param.is_flag:
                param.metavar = ""
            elif choices is not None:
                param.metavar = "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
            elif param.metavar is None:
                name = param.name or ""
                param.metavar = METAVARS.get(name) or TYPE_METAVARS.get(kind, name.upper())
        elif param.param_type_name == "argument":
            shown = param.metavar or (param.name or "").upper()
            usage = (shown if param.required else f"[{shown}]") + ("..." if param.nargs != 1 else "")
            param.metavar = shown
            param.get_usage_pieces = lambda ctx, usage=usage: [usage]  # not Typer's "{name}"
            param.type = copy.copy(param.type)  # Typer's types are shared: this argument's own copy
            param.type.get_metavar = lambda param, ctx: ""  # the name says it; no Python type beside it
    original = command.get_help_option

    def get_help_option(ctx: Any, original: Any = original) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        polish_help(sub)
    return command


def _value_kind(param: Any) -> tuple[Any, str]:
    """(the choices of a parameter, or None; the kind of value it takes: path, int, float, str), from its
    Click parameter type (Typer is pinned below 0.29, whose parameters are described otherwise)."""
    choices = getattr(param.type, "choices", None)
    return (tuple(choices) if choices is not None else None), getattr(param.type, "name", "text")


_command: Any = None


def command_line() -> Any:
    """The Click command of the app, built once, its help polished."""
    global _command
    if _command is None:
        _command = polish_help(typer.main.get_command(app))
    return _command


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")
GLOBAL_OPTIONS = ("--artifacts", "--config", "--log-format")  # they take a value


def hoist_global_options(argv: list[str]) -> list[str]:
    """Global options given after the command (``churnctl predict --json row.json -q``) moved before
    it, where the parser takes them; ``--`` ends the search."""
    command = 0
    while command < len(argv) and (argv[command].startswith("-") or (command and argv[command - 1] in GLOBAL_OPTIONS)):
        if argv[command] == "--":
            return argv
        command += 1
    front, rest, i = list(argv[:command]), [], command + 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            rest += argv[i:]
            break
        if token in GLOBAL_FLAGS or token.startswith(tuple(f"{o}=" for o in GLOBAL_OPTIONS)):
            front.append(token)
        elif token in GLOBAL_OPTIONS and i + 1 < len(argv):
            front += [token, argv[i + 1]]
            i += 1
        else:
            rest.append(token)
        i += 1
    return front + argv[command : command + 1] + rest if command < len(argv) else argv


class _StdoutGuard:
    """Standard output whose closing by the reader ends the run quietly (PipeClosed, exit 0)."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise PipeClosed from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise PipeClosed from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every outcome to one exit code.

    Typer handles usage errors itself (exit 2) and exits with the command's code; a
    :class:`ChurnctlError` becomes one message on stderr (and, with ``--format json``, one JSON
    object on stdout) and its exit code; anything else is a bug.
    """
    global _json_logs
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    _json_logs = _wants_json_logs(args)  # before parsing: the parser's own errors are JSON lines too
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    stdout = sys.stdout
    sys.stdout = _StdoutGuard(stdout)
    try:
        _run(args, json_errors=_wants_json(args))
    finally:  # for callers that run churnctl in their own process
        sys.stdout = stdout
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _gives(args: list[str], option: str, value: str) -> bool:
    """Whether the command line sets ``option`` to ``value`` (``--option value`` or ``--option=value``)."""
    return f"{option}={value}" in args or (option, value) in itertools.pairwise(args)


def _wants_json(args: list[str]) -> bool:
    return _gives(args, "--format", "json")


def _wants_json_logs(args: list[str]) -> bool:
    other = any(a.startswith("--log-format=") for a in args) or "--log-format" in args
    return _gives(args, "--log-format", "json") or (not other and os.environ.get("CHURNCTL_LOG_FORMAT") == "json")


def _fail(code: int, message: str, hint: str | None, json_errors: bool) -> NoReturn:
    """One message on stderr; with --format json also one JSON object on stdout; then exit."""
    if _json_logs:
        sys.stderr.write(json_log_line("error", message, logger="churnctl", hint=hint, exit_code=code) + "\n")
    else:
        sys.stderr.write(f"churnctl: error: {message}\n" + (f"  hint: {hint}\n" if hint else ""))
    if json_errors:
        with contextlib.suppress(BrokenPipeError, PipeClosed):
            sys.stdout.write(json.dumps({"error": {"code": code, "message": message, "hint": hint}}, indent=2) + "\n")
            sys.stdout.flush()
    sys.exit(code)


def _say(message: str, exit_code: int) -> None:
    """A last word on stderr (interrupted, terminated), in the run's log format."""
    line = (
        json_log_line("error", message, logger="churnctl", exit_code=exit_code)
        if _json_logs
        else f"churnctl: {message}"
    )
    sys.stderr.write(line + "\n")


def _run(argv: list[str], json_errors: bool) -> None:
    try:
        if _json_logs:  # the parser's errors come back as exceptions, to be written as JSON lines
            outcome = command_line().main(args=argv, prog_name="churnctl", standalone_mode=False)
            sys.exit(outcome if isinstance(outcome, int) else 0)
        command_line().main(args=argv, prog_name="churnctl")
    except typer.TyperException as exc:  # only with --log-format json: a command-line error
        message = (exc.format_message() if hasattr(exc, "format_message") else str(exc)) or "missing command"
        _fail(int(getattr(exc, "exit_code", EXIT_USAGE)), message, "see churnctl --help", json_errors)
    except PipeClosed:  # e.g. `churnctl predict --input big.csv | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno() if sys.__stdout__ else 1)
        sys.exit(0)
    except SystemExit as exc:
        if exc.code == EXIT_USAGE and json_errors:  # the parser's own usage error, already on stderr
            _fail(EXIT_USAGE, "invalid command line (the parser's message is on stderr)", None, json_errors)
        raise
    except Interrupted as exc:
        _say("interrupted" if exc.signum == signal.SIGINT else "terminated", exit_code=128 + exc.signum)
        sys.exit(128 + exc.signum)
    except ChurnctlError as exc:  # the user's to fix: a message and a hint, never a traceback (not even with -v)
        _fail(exc.exit_code, exc.message, exc.hint, json_errors)
    except KeyboardInterrupt:
        _say("interrupted", exit_code=130)
        sys.exit(130)
    except OSError as exc:  # a fault of the machine that no layer named: still the user's to fix
        _fail(EXIT_ARTIFACT, os_reason(exc), os_hint(exc, "check the files and disks in use"), json_errors)
    except Exception as exc:  # a bug: say so, and show the traceback with -v
        if _verbosity > 0 and not _json_logs:
            traceback.print_exc(file=sys.stderr)
        elif _verbosity > 0:
            logging.getLogger("churnctl").debug("internal error", exc_info=True)
        _fail(
            EXIT_INTERNAL,
            f"internal error: {type(exc).__name__}: {exc}",
            "rerun with -v for a traceback and report it",
            json_errors,
        )
