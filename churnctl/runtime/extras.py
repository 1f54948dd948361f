"""Optional extras (``churnctl[serve]``, ``churnctl[dask]``): a feature without its packages is a usage
error naming the install command, never an ImportError."""

from __future__ import annotations

import importlib.util

from churnctl.errors import UsageError


def require(modules: tuple[str, ...], feature: str, extra: str) -> None:
    """Exit 2 naming ``pip install 'churnctl[extra]'`` when one of ``modules`` is not installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            f"{feature} needs {' and '.join(missing)}, which the base install leaves out",
            hint=f"install the {extra} extra: pip install 'churnctl[{extra}]'",
        )
