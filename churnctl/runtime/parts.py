"""What an engine needs of one part of an input (:class:`churnctl.data.sources.Part`, a prediction log's
file): a protocol, so that engines run any kind of part without knowing the data layer."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar


class Part(Protocol):
    """One file of an input, as engines see it (:class:`churnctl.data.sources.Part` and the prediction
    log's files): named, counted, read locally."""

    @property
    def location(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def is_parquet(self) -> bool: ...

    def estimate_rows(self) -> int | None: ...

    def fetched(self) -> AbstractContextManager[Any]: ...


P = TypeVar("P", bound=Part)
