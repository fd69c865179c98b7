"""Image items made on demand (a corrupted test image, a patch of a whole-slide image): the
decoder asks them for pixels and the dataset fingerprint for a digest of what they show."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class RenderedItem(Protocol):
    """An item that renders its own RGB uint8 pixels and digests its definition and source."""

    def render(self) -> np.ndarray: ...

    def digest(self) -> bytes: ...
