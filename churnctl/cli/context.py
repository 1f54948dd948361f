"""What the root command passes to every subcommand through Typer's context: where the artifacts
are, the settings, and how much to say."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from churnctl.config import Settings, load_settings
from churnctl.registry import Registry
from churnctl.registry.signing import KeySource


@dataclass
class State:
    artifacts: Path
    config: Path | None
    verbosity: int
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def registry(self) -> Registry:
        return Registry(self.artifacts, KeySource(self.settings.security.key_file, artifacts=self.artifacts))


def state(ctx: typer.Context) -> State:
    """The root command's state, from any subcommand's context."""
    found = ctx.find_root().obj
    assert isinstance(found, State), "the root callback sets the state"
    return found
