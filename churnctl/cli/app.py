"""The ``churnctl`` root command: global options, command registration, errors -> exit codes."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import traceback
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
    models,
    predict,
    retrain,
    simulate,
    train,
)
from churnctl.cli.context import State
from churnctl.compute import compute_threads
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
    context_settings={"help_option_names": ["-h", "--help"]},
)


# Verbosity of this run, for the error handler in main() (which runs outside any Typer context).
_verbosity = 0


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        prefix = "churnctl: " + ("" if record.levelno == logging.INFO else f"{level}: ")
        return prefix + record.getMessage()


def _configure_logging(verbosity: int) -> None:
    logger = logging.getLogger("churnctl")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel({-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG))


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
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    global _verbosity
    _verbosity = 1 if verbose else (-1 if quiet else 0)
    _configure_logging(_verbosity)
    # Settings are read here: a broken settings file is a usage error for every command, read or write.
    ctx.obj = State(artifacts=artifacts, config=config, verbosity=_verbosity, _settings=load_settings(config))


app.command("simulate")(simulate.simulate_command)
app.command("ingest")(ingest.ingest_command)
app.command("train")(train.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("predict")(predict.predict_command)
app.command("drift-check")(drift_check.drift_check_command)
app.command("retrain")(retrain.retrain_command)
app.command("events")(events.events_command)
app.add_typer(models.app, name="models")
app.add_typer(datasets.app, name="datasets")


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")
GLOBAL_OPTIONS = ("--artifacts", "--config")  # they take a value


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
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    stdout = sys.stdout
    sys.stdout = _StdoutGuard(stdout)
    try:
        _run(args, json_errors=_wants_json(args))
    finally:  # for callers that run churnctl in their own process
        sys.stdout = stdout
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _wants_json(args: list[str]) -> bool:
    return "--format=json" in args or ("--format", "json") in itertools.pairwise(args)


def _fail(code: int, message: str, hint: str | None, json_errors: bool) -> NoReturn:
    """One message on stderr; with --format json also one JSON object on stdout; then exit."""
    sys.stderr.write(f"churnctl: error: {message}\n" + (f"  hint: {hint}\n" if hint else ""))
    if json_errors:
        with contextlib.suppress(BrokenPipeError, PipeClosed):
            sys.stdout.write(json.dumps({"error": {"code": code, "message": message, "hint": hint}}, indent=2) + "\n")
            sys.stdout.flush()
    sys.exit(code)


def _run(argv: list[str], json_errors: bool) -> None:
    try:
        app(args=argv, prog_name="churnctl")
    except PipeClosed:  # e.g. `churnctl predict --input big.csv | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno() if sys.__stdout__ else 1)
        sys.exit(0)
    except SystemExit as exc:
        if exc.code == EXIT_USAGE and json_errors:  # the parser's own usage error, already on stderr
            _fail(EXIT_USAGE, "invalid command line (the parser's message is on stderr)", None, json_errors)
        raise
    except Interrupted as exc:
        sys.stderr.write(f"churnctl: {'interrupted' if exc.signum == signal.SIGINT else 'terminated'}\n")
        sys.exit(128 + exc.signum)
    except ChurnctlError as exc:
        if _verbosity > 0:
            logging.getLogger("churnctl").debug("details", exc_info=True)
        _fail(exc.exit_code, exc.message, exc.hint, json_errors)
    except KeyboardInterrupt:
        sys.stderr.write("churnctl: interrupted\n")
        sys.exit(130)
    except OSError as exc:  # a fault of the machine that no layer named: still the user's to fix
        _fail(EXIT_ARTIFACT, os_reason(exc), os_hint(exc, "check the files and disks in use"), json_errors)
    except Exception as exc:  # a bug: say so, and show the traceback with -v
        if _verbosity > 0:
            traceback.print_exc(file=sys.stderr)
        _fail(
            EXIT_INTERNAL,
            f"internal error: {type(exc).__name__}: {exc}",
            "rerun with -v for a traceback and report it",
            json_errors,
        )
