"""Where churnctl's log records go: stderr, as ``churnctl: ...`` text lines or as one JSON object per
line (``--log-format json``), for every command and for the processes of ``churnctl serve``."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        prefix = "churnctl: " + ("" if record.levelno == logging.INFO else f"{level}: ")
        details = f"\n{self.formatException(record.exc_info)}" if record.exc_info else ""
        return prefix + record.getMessage() + details


def json_log_line(level: str, message: str, **fields: Any) -> str:
    """One log record as one line of JSON: time (UTC, ISO 8601), level, message, pid and any fields."""
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {"time": stamp, "level": level, "message": message, "pid": os.getpid(), **fields}
    return json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        details = self.formatException(record.exc_info) if record.exc_info else None
        return json_log_line(record.levelname.lower(), record.getMessage(), logger=record.name, traceback=details)


def configure_logging(verbosity: int, json_logs: bool = False) -> None:
    logger = logging.getLogger("churnctl")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if json_logs else _StderrFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    # Library warnings (scikit-learn, pandas) would break a stream of JSON lines: route them through it.
    logging.captureWarnings(json_logs)
    library = logging.getLogger("py.warnings")
    library.handlers.clear()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "churnctl", False)]:
        root.removeHandler(old)
    if json_logs:
        library.addHandler(handler)
        library.propagate = False
        # Other libraries' log records (matplotlib's cache notices, ...) as JSON lines too.
        other = logging.StreamHandler(sys.stderr)
        other.setFormatter(_JsonFormatter())
        other.setLevel(logging.WARNING)
        other.churnctl = True  # type: ignore[attr-defined]
        root.addHandler(other)
    logger.setLevel({-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG))
    logging.getLogger("churnctl.data").setLevel(logging.NOTSET)  # as the churnctl logger (serve may set it)


def route_server_logs(verbosity: int, access_log: bool) -> None:
    """uvicorn's records (start, stop, errors and, when asked, one line per request) through churnctl's
    handler and format; call after :func:`configure_logging`."""
    handlers = logging.getLogger("churnctl").handlers
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = list(handlers) if name == "uvicorn" else []
        logger.propagate = name != "uvicorn"
        logger.setLevel(logging.ERROR if verbosity < 0 else logging.INFO)
    logging.getLogger("uvicorn.access").disabled = not access_log
    # Warnings about a request's rows (unseen categories) go back to its client in a header; in the
    # server's log they would be one line per request: shown only with -v.
    logging.getLogger("churnctl.data").setLevel(logging.DEBUG if verbosity > 0 else logging.ERROR)
