"""What a ``churnctl serve`` process needs to know, as one value that crosses into worker processes."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = "CHURNCTL_SERVE_OPTIONS"  # how uvicorn's worker processes receive the options
API_KEY_ENV = "CHURNCTL_API_KEY"


@dataclass(frozen=True)
class ServeOptions:
    artifacts: str
    config: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_predictions: bool = False
    log_rotation: str = "daily"
    log_keep_days: int = 0
    max_body_bytes: int = 1_048_576
    max_rows: int = 10_000
    reload_seconds: float = 0.5
    verbosity: int = 0
    json_logs: bool = False
    access_log: bool = False

    @property
    def artifacts_path(self) -> Path:
        return Path(self.artifacts)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        return cls(**json.loads(os.environ[ENV]))


def api_key() -> str | None:
    """The key every request but ``/health`` must carry (``$CHURNCTL_API_KEY``); None: no key."""
    return os.environ.get(API_KEY_ENV) or None
