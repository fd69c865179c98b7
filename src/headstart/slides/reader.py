"""Reading whole-slide images: OpenSlide (SVS, NDPI, MRXS, generic tiled TIFF, ...) when it is
installed, tiffslide (pure Python, TIFF-based formats) otherwise.

A `Slide` reads regions and builds thumbnails chunk by chunk, so memory stays bounded by the
chunk, never by the level. Its microns per pixel come from the slide's metadata, or from the
caller for slides that have none; a slide with neither is refused with a clear error.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np

from headstart.exceptions import DataError, MissingExtraError

BACKENDS = ("openslide", "tiffslide")
SLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".tif", ".tiff", ".scn", ".vms", ".vmu", ".bif")
OPENSLIDE_ONLY = (".mrxs", ".ndpi", ".vms", ".vmu", ".scn", ".bif")  # not TIFF pyramids
CHUNK = 2048  # pixels per side of one read while building a thumbnail
MICRONS_PER_UNIT = {"centimeter": 1e4, "inch": 25400.0}
MAX_MPP = 10.0  # coarser than this is a default resolution tag (72 dpi = 353 µm/px), not a scan


def slide_id(path: str | Path) -> str:
    """A slide's id: its file name without a slide suffix (nor `.ome` of `.ome.tiff`); ids
    given with their suffix (`TCGA-xx.svs`) name the same slide."""
    name = Path(path).name
    suffix = Path(name).suffix
    stem = name[: -len(suffix)] if suffix.lower() in SLIDE_SUFFIXES else name
    return stem[:-4] if stem.lower().endswith(".ome") else stem


def available_backend(backend: str = "auto") -> str:
    """The reader to use: `backend` as asked, or for "auto" OpenSlide, then tiffslide."""
    if backend not in ("auto", *BACKENDS):
        raise DataError(f"slide backend {backend!r}: choose auto, {', '.join(BACKENDS)}")
    wanted = BACKENDS if backend == "auto" else (backend,)
    for name in wanted:
        if importlib.util.find_spec(name) is not None:
            return name
    raise MissingExtraError(
        "reading slides needs openslide-python with openslide-bin, or tiffslide: "
        "pip install 'headstart[slides]'"
    )


class Slide:
    """One whole-slide image: its pyramid, microns per pixel and region reads (RGB uint8)."""

    def __init__(
        self,
        path: str | Path,
        mpp: float | None = None,
        backend: str = "auto",
        override: bool = False,
    ) -> None:
        """`mpp` fills in a slide whose metadata has no (plausible) microns per pixel; with
        `override` it replaces what the metadata says (a per-slide correction)."""
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"slide {self.path} does not exist")
        if mpp is not None and not (0 < mpp <= MAX_MPP):
            raise DataError(f"mpp {mpp!r}: microns per pixel must be in (0, {MAX_MPP}]")
        self.backend = available_backend(backend)
        self._handle = open_handle(self.path, self.backend)
        self.level_dimensions = [tuple(map(int, d)) for d in self._handle.level_dimensions]
        self.level_downsamples = [float(d) for d in self._handle.level_downsamples]
        self.properties = {str(k): str(v) for k, v in dict(self._handle.properties).items()}
        found = metadata_mpp(self.properties)
        if found is None and mpp is None:
            self.close()
            raise DataError(
                f"slide {self.path.name} has no microns per pixel in its metadata; give it "
                "(--slide-mpp: a number, or a slide_id,mpp CSV) to patch at a physical resolution"
            )
        if mpp is not None and (override or found is None):
            self.mpp, self.mpp_source = float(mpp), "given"
            if found is not None:
                self.mpp_source = f"given (the metadata says {found:g})"
        else:
            self.mpp, self.mpp_source = float(found), "metadata"
        self.thumbnail_gaps = 0  # thumbnail chunks whose tiles failed to decode

    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 (width, height)."""
        return self.level_dimensions[0]

    @property
    def magnification(self) -> float:
        """The objective power recorded by the scanner, else the usual 10 µm / mpp."""
        for key in ("openslide.objective-power", "tiffslide.objective-power", "aperio.AppMag"):
            try:
                return float(self.properties[key])
            except (KeyError, ValueError):
                continue
        return round(10.0 / self.mpp, 2)

    def best_level(self, downsample: float) -> int:
        """The coarsest level no coarser than `downsample` (so reads are only ever shrunk)."""
        fits = [k for k, d in enumerate(self.level_downsamples) if d <= downsample * 1.001]
        return max(fits, key=lambda k: self.level_downsamples[k]) if fits else 0

    def read(self, x: int, y: int, level: int, width: int, height: int) -> np.ndarray:
        """The (height, width, 3) RGB region whose top-left is level-0 (x, y), read at `level`;
        transparent pixels (outside the scanned area) become white."""
        return read_region(self._handle, x, y, level, width, height)

    def thumbnail(self, downsample: float) -> np.ndarray:
        """The slide shrunk `downsample` times from level 0, built from the best level one
        chunk at a time (never a whole level in memory)."""

        level = self.best_level(downsample)
        level_w, level_h = self.level_dimensions[level]
        factor = self.level_downsamples[level] / downsample  # ≤ 1: this level is shrunk
        width, height = (max(1, math.ceil(n * factor)) for n in (level_w, level_h))
        out = np.empty((height, width, 3), np.uint8)
        scale = self.level_downsamples[level]
        for top in range(0, level_h, CHUNK):
            for left in range(0, level_w, CHUNK):
                w, h = min(CHUNK, level_w - left), min(CHUNK, level_h - top)
                x0, y0 = math.floor(left * factor), math.floor(top * factor)
                x1 = width if left + w >= level_w else math.floor((left + w) * factor)
                y1 = height if top + h >= level_h else math.floor((top + h) * factor)
                if x1 <= x0 or y1 <= y0:
                    continue
                x, y = round(left * scale), round(top * scale)
                chunk = self._chunk(x, y, level, w, h, (x1 - x0, y1 - y0))
                out[y0:y1, x0:x1] = chunk
        return out

    def _chunk(
        self, x: int, y: int, level: int, w: int, h: int, size: tuple[int, int]
    ) -> np.ndarray:
        """One thumbnail chunk; a region that fails to decode (a corrupt tile) is read from
        the next coarser level that can give it, else left as glass, and counted."""
        import cv2

        for source in range(level, len(self.level_dimensions)):
            scale = self.level_downsamples[level] / self.level_downsamples[source]
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            try:
                region = self.read(x, y, source, sw, sh)
            except Exception:  # the backends raise their own decode errors
                self.thumbnail_gaps += source == level
                self._handle.close()  # OpenSlide refuses every read after an error
                self._handle = open_handle(self.path, self.backend)
                continue
            return cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        return np.full((size[1], size[0], 3), 255, np.uint8)

    def describe(self) -> dict[str, Any]:
        """What a bag store records of the slide."""
        return {
            "backend": self.backend,
            "dimensions": list(self.dimensions),
            "levels": len(self.level_dimensions),
            "level_dimensions": [list(d) for d in self.level_dimensions],
            "level_downsamples": [round(d, 4) for d in self.level_downsamples],
            "mpp": self.mpp,
            "mpp_source": self.mpp_source,
            "magnification": self.magnification,
            "thumbnail_gaps": self.thumbnail_gaps,
        }

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def metadata_mpp(properties: dict[str, str]) -> float | None:
    """Microns per pixel from a slide's properties (the readers' own key, the Aperio key, or
    the TIFF resolution tags), or None when the slide records none."""
    for key in ("openslide.mpp-x", "tiffslide.mpp-x", "aperio.MPP"):
        value = _positive(properties.get(key))
        if value is not None:
            return value if value <= MAX_MPP else None
    unit = str(properties.get("tiff.ResolutionUnit", "")).lower()
    resolution = _positive(properties.get("tiff.XResolution"))
    if unit in MICRONS_PER_UNIT and resolution is not None:
        value = MICRONS_PER_UNIT[unit] / resolution
        return value if value <= MAX_MPP else None
    return None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def read_region(handle: Any, x: int, y: int, level: int, width: int, height: int) -> np.ndarray:
    """A backend handle's region as RGB uint8, transparent pixels composited onto white."""
    region = handle.read_region((int(x), int(y)), int(level), (int(width), int(height)))
    array = np.asarray(region)
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array[..., :3])


def open_handle(path: str | Path, backend: str, cache_bytes: int | None = None) -> Any:
    """The backend's handle, or a `DataError` saying the file is not a slide it reads;
    `cache_bytes` bounds OpenSlide's tile cache (32 MiB per handle by default)."""
    path = Path(path)
    try:
        if backend == "openslide":
            import openslide

            handle = openslide.OpenSlide(str(path))
            if cache_bytes is not None:
                handle.set_cache(openslide.OpenSlideCache(cache_bytes))
            return handle
        import tiffslide

        return tiffslide.TiffSlide(str(path))
    except Exception as error:  # each backend has its own "unsupported" and decode errors
        hint = ""
        if backend == "tiffslide" and path.suffix.lower() in OPENSLIDE_ONLY:
            hint = "; this format needs OpenSlide: pip install openslide-bin openslide-python"
        raise DataError(
            f"{path.name} cannot be read as a whole-slide image by {backend} "
            f"({type(error).__name__}: {error}){hint}"
        ) from error
