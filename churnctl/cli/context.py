"""What the root command passes to every subcommand through Typer's context: where the artifacts
are, the settings, and how much to say."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from churnctl.config import Settings, load_settings

if TYPE_CHECKING:
    from churnctl.registry import Registry


@dataclass
class State:
    artifacts: Path
    config: Path | None
    verbosity: int
    json_logs: bool = False  # --log-format json: stderr carries JSON lines only (no progress bars)
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def registry(self) -> Registry:
        from churnctl.registry import Registry  # not for --help: the registry's imports cost a start-up
        from churnctl.registry.signing import KeySource

        return Registry(self.artifacts, KeySource(self.settings.security.key_file, artifacts=self.artifacts))


def metrics_writer(path: Path | None) -> Callable[[str, Any, Callable[[], str | None]], None]:
    """For ``--metrics-file``: the path is checked now, before the work, and the returned function writes
    the file after it (``current`` gives the version in production); without the option, a no-op."""
    if path is None:
        return lambda command, result, current: None
    from churnctl.reports.metrics_file import check_metrics_path, write_metrics_file

    check_metrics_path(path)

    def write(command: str, result: Any, current: Callable[[], str | None]) -> None:
        write_metrics_file(path, command, result, current())
        logging.getLogger("churnctl").info("wrote the metrics to %s", path)

    return write


def report_writer(path: Path | None, kind: str) -> Callable[[Any], None]:
    """For ``--report``: the path is checked now, before the work, and the returned function renders the
    command's result as the ``kind`` of page (:func:`churnctl.reports.render`) and writes it atomically
    after the work; without the option, a no-op."""
    if path is None:
        return lambda result: None
    from churnctl.data.outputs import check_output_file

    check_output_file(path, "--report", "give a file name such as report.html in an existing folder")

    def write(result: Any) -> None:
        from churnctl.reports import render
        from churnctl.reports.page import write as write_page

        write_page(path, render(kind, result))
        logging.getLogger("churnctl").info("wrote the %s report to %s", kind, path)

    return write


def state(ctx: typer.Context) -> State:
    """The root command's state, from any subcommand's context."""
    found = ctx.find_root().obj
    assert isinstance(found, State), "the root callback sets the state"
    return found
