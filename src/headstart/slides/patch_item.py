"""`SlidePatch`: one patch of a whole-slide image as a dataset item, read where the
embedding's workers decode items (so slides embed through the same machinery as image
folders: batches, prefetch, resumable shards, skipped items listed).

Each worker thread keeps its own open handle per slide. A tile that fails to decode becomes a
skipped item with its reason, and the handle is reopened (OpenSlide refuses every read after
an error on a handle). Their tile caches are kept small (PATCH_CACHE): patches are read once,
in order, so a large cache only holds memory, which then grows with the slide.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from headstart.datasets import ItemError
from headstart.slides.reader import open_handle, read_region

# in every patch's digest (so in bag-store keys): change it when reading or resizing changes
DEFINITION = "slide patch: read at the best level, INTER_AREA resize (headstart 2026-12)"
PATCH_CACHE = 8 * 2**20  # bytes of OpenSlide tile cache per worker thread's handle
_local = threading.local()


@dataclass(frozen=True)
class SlidePatch:
    """The patch at level-0 (`x`, `y`) of the slide at `path`: `read_size` pixels read at
    `level`, resized to `size` × `size`; `slide_digest` names the slide file's content."""

    path: str
    backend: str
    x: int
    y: int
    level: int
    read_size: int
    size: int
    slide_digest: str

    def render(self) -> np.ndarray:
        """The RGB uint8 patch (an `ItemError` when the slide cannot give it)."""
        import cv2

        handles: dict[tuple[str, str], Any] = _local.__dict__.setdefault("handles", {})
        key = (self.path, self.backend)
        try:
            handle = handles.get(key) or handles.setdefault(
                key, open_handle(self.path, self.backend, PATCH_CACHE)
            )
            region = read_region(handle, self.x, self.y, self.level, self.read_size, self.read_size)
        except Exception as error:  # a corrupt tile; the backends raise their own types
            stale = handles.pop(key, None)
            if stale is not None:
                stale.close()
            raise ItemError(
                f"patch at ({self.x}, {self.y}) level {self.level} of {self.path} could not "
                f"be read ({type(error).__name__}: {error})"
            ) from error
        if self.read_size == self.size:
            return region
        return cv2.resize(region, (self.size, self.size), interpolation=cv2.INTER_AREA)

    def digest(self) -> bytes:
        """sha256 of the definition, the slide's content digest and where the patch is."""
        where = (
            DEFINITION,
            self.backend,  # OpenSlide and tiffslide may decode JPEG tiles a little differently
            self.slide_digest,
            self.x,
            self.y,
            self.level,
            self.read_size,
            self.size,
        )
        return hashlib.sha256(repr(where).encode()).digest()

    def __str__(self) -> str:  # the failures file's `item` column names the slide and place
        return f"{self.path}@{self.x},{self.y}"
