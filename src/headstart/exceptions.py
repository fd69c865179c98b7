"""Exception classes: every user-facing failure in headstart is one of these.

Messages say what was wrong, where (file, row, parameter) and what to do about it.
"""

from __future__ import annotations


class HeadstartError(Exception):
    """Base class of every error headstart raises on purpose."""


class DataError(HeadstartError, ValueError):
    """Input data is malformed: a file, a row, an array or a label is not usable."""


class UnknownNameError(HeadstartError, KeyError):
    """A registry lookup failed; the message lists the closest registered names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingExtraError(HeadstartError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


class WeightsUnavailableError(HeadstartError, OSError):
    """Pretrained weights could not be found locally nor downloaded."""


class StoreError(HeadstartError):
    """An embedding store is missing, corrupt, or belongs to another run."""


def raise_problems(source: object, problems: list[str], shown: int = 10) -> None:
    """Stop with every collected problem of `source` in one DataError (the first `shown`
    listed), so a user fixes a file in one pass; does nothing when there are none."""
    if problems:
        listed = "; ".join(problems[:shown])
        more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
        raise DataError(f"{source}: {len(problems)} problem(s): {listed}{more}")
