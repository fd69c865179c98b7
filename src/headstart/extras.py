"""Optional extras: a clear error naming the pip extra when an optional package is missing."""

from __future__ import annotations

import importlib.util

from headstart.exceptions import MissingExtraError


def require(module: str, extra: str, what: str) -> None:
    """Fail with the pip extra to install when optional `module` is missing."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(
            f"{what} needs the '{module}' package: pip install 'headstart[{extra}]'"
        )
