"""What every lifecycle result shares: a JSON document, and warnings logged as they are kept."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

log = logging.getLogger("churnctl.data")  # warnings about the input data


class Result:
    """A command's outcome; ``to_dict()`` is its JSON document."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass


def warn(messages: list[str]) -> list[str]:
    """Log each warning on the ``churnctl`` logger and return them, for the result."""
    for message in messages:
        log.warning(message)
    return messages
