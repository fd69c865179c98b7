"""Whole-slide images: readers (OpenSlide, tiffslide), CLAM-style tissue masks, patch grids at a
physical resolution, patches as dataset items, CLAM/TRIDENT `.h5` files, heat-map painting and
generated slides. The workflow (`workflow.slides`) writes their bags through `store`."""

from headstart.slides.patching import PatchGrid, PatchSpec, patch_grid
from headstart.slides.reader import Slide
from headstart.slides.tissue import PRESETS, TissueMask, TissuePreset, segment_tissue, tissue_preset

__all__ = [
    "PRESETS",
    "PatchGrid",
    "PatchSpec",
    "Slide",
    "TissueMask",
    "TissuePreset",
    "patch_grid",
    "segment_tissue",
    "tissue_preset",
]
