"""Patch grids at a physical resolution: `size` pixels at `mpp` microns per pixel, every
`stride` pixels, kept where the tissue mask covers at least `min_tissue` of the patch.

Coordinates are level-0 top-left corners (CLAM's and TRIDENT's convention). A patch is read
from the coarsest pyramid level that is still at least as fine as asked, then resized, so a
0.5 µm/px patch of a 0.25 µm/px slide reads half as many pixels from level 1 as from level 0.
Variants of CLAM's grid: CLAM keeps a patch when one of four points around its centre is in a
tissue contour and its centre in no hole, here the share of the patch on the filled mask
decides; CLAM lays a grid per contour from its bounding box (patches of overlapping boxes
twice) and pads patches past the slide's edge, here one lattice from (0, 0) covers the slide
and patches stay inside it. A slide up to UPSAMPLE_TOLERANCE coarser than asked (a 0.2525
µm/px "40×" scan asked for 0.25) is read at level 0 and enlarged that little.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from headstart.exceptions import DataError
from headstart.slides.tissue import TissueMask

UPSAMPLE_TOLERANCE = 0.05  # a slide this much coarser than asked is still patched


@dataclass(frozen=True)
class PatchSpec:
    """The patching recipe: output side, its microns per pixel, stride, minimum tissue share."""

    size: int = 256
    mpp: float = 0.5
    stride: int | None = None  # output pixels between patches; None = size (no overlap)
    min_tissue: float = 0.25

    def __post_init__(self) -> None:
        if self.size < 8:
            raise DataError(f"patch size {self.size}: patches need at least 8 pixels a side")
        if not self.mpp > 0:
            raise DataError(f"patch mpp {self.mpp!r}: microns per pixel must be positive")
        if self.stride is not None and not 1 <= self.stride <= self.size:
            raise DataError(
                f"patch stride {self.stride}: between 1 and the patch size {self.size} (patches "
                "may overlap; gaps between them would break grid readers such as TRIDENT's)"
            )
        if not 0.0 <= self.min_tissue <= 1.0:
            raise DataError(f"min_tissue {self.min_tissue}: a share between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"stride": self.stride or self.size}


@dataclass(frozen=True)
class PatchGrid:
    """Where a slide's patches are: level-0 `coords` (N, 2) as (x, y), the level read, the
    side read there, the level-0 footprint and each patch's tissue share."""

    coords: np.ndarray
    level: int
    read_size: int
    size0: int
    tissue: np.ndarray

    def __len__(self) -> int:
        return len(self.coords)


def patch_grid(
    dimensions: tuple[int, int],
    mpp: float,
    downsamples: list[float],
    mask: TissueMask,
    spec: PatchSpec,
    name: str = "slide",
) -> PatchGrid:
    """The patches of a slide of level-0 `dimensions` at `mpp`, with pyramid `downsamples`."""
    factor = spec.mpp / mpp  # level-0 pixels per output pixel
    if factor < 1 - UPSAMPLE_TOLERANCE:
        raise DataError(
            f"{name} is scanned at {mpp:g} µm/px, coarser than the {spec.mpp:g} µm/px asked: "
            "patches would be upsampled; ask for a coarser mpp"
        )
    fits = [k for k, d in enumerate(downsamples) if d <= factor * 1.001] or [0]
    level = max(fits, key=lambda k: downsamples[k])
    read_size = max(1, round(spec.size * factor / downsamples[level]))
    size0 = round(read_size * downsamples[level])  # the level-0 side of exactly what is read
    stride0 = max(1, round((spec.stride or spec.size) * factor))
    width, height = dimensions
    xs = np.arange(0, width - size0 + 1, stride0)
    ys = np.arange(0, height - size0 + 1, stride0)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.int64)
    share = mask.share(grid, size0) if len(grid) else np.zeros(0)
    keep = (share >= spec.min_tissue) & (share > 0)
    return PatchGrid(grid[keep], level, read_size, size0, share[keep])
