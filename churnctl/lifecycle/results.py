"""What every lifecycle result shares, and the result of ``predict --json``, which both the
scikit-learn path (:mod:`churnctl.lifecycle.predict`) and the compiled one
(:mod:`churnctl.lifecycle.predict_compiled`) return."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
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


@dataclass
class PredictRowsResult(Result):
    model_version: str
    single: bool
    predictions: list[dict]
    warnings: list[str] = field(default_factory=list)

    def document(self) -> Any:
        """The JSON written to stdout: one object for one input object, else an array."""
        return self.predictions[0] if self.single else self.predictions
