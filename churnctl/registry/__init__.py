"""The versioned artifacts directory: datasets, model versions, the current pointer, the event log
and the lock that serialises every writer. See :mod:`churnctl.registry.store` for the layout."""

from churnctl.registry.store import Registry

__all__ = ["Registry"]
