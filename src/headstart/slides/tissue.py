"""Tissue segmentation on a thumbnail, as CLAM's `segmentTissue` does it: HSV saturation,
median blur, a fixed or Otsu threshold, morphological closing, then contours (with their
holes) kept by area. Areas are in CLAM's unit: multiples of a reference patch of
`ref_patch_size`² level-0 pixels.

Presets are CLAM's (`clam` = create_patches_fp.py's defaults; `bwh_biopsy`, `bwh_resection`,
`tcga` = its preset files) plus `default`, a variant: CLAM's defaults with bwh_biopsy's area
thresholds of 1 reference patch (CLAM's 100 drops all tissue of a biopsy or a small slide) and
pen ink removed before thresholding (saturated blue or green pixels are not tissue). The mask
is saved as GeoJSON (level-0 polygons with holes, which QuPath opens) and as a preview PNG.

Differences from CLAM besides the presets: the thumbnail is the slide resampled to exactly
`downsample` (64, lowered so its longer side keeps SEGMENT_SIDE pixels) from the best level,
where CLAM segments the pyramid level nearest below 64× as it is (often 16× on Aperio files);
transparent pixels are composited onto white (CLAM reads RGBA straight, transparent = black;
both have saturation 0). Contour and hole filtering is CLAM's to the comparison; a hole's
outline stays tissue and an island inside a hole stays, as with CLAM's point tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from headstart.exceptions import DataError

SEGMENT_SIDE = 1024  # a thumbnail's longer side is at least this (or the slide's own)


KINDS = {"use_otsu": bool, "a_t": float, "a_h": float, "downsample": float}


def _typed(name: str, value: Any) -> Any:
    """`value` as the parameter's type (booleans from true/false, none for pen_saturation)."""
    kind = KINDS.get(name, int)
    if name == "pen_saturation" and (value is None or str(value).lower() in ("none", "off")):
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes", "false", "0", "no"):
            return str(value).lower() in ("true", "1", "yes")
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if np.isfinite(number) and (kind is float or number == int(number)):
            return kind(number)
    wanted = {bool: "true or false", float: "a number", int: "a whole number"}[kind]
    raise DataError(f"tissue preset: {name}={value!r} is not {wanted}")


@dataclass(frozen=True)
class TissuePreset:
    """CLAM's segmentation parameters (names as in its preset CSVs) and ours (pen, downsample)."""

    sthresh: int = 8  # saturation threshold (ignored with use_otsu)
    sthresh_up: int = 255
    mthresh: int = 7  # median blur kernel (odd)
    close: int = 4  # closing kernel side; 0 = no closing
    use_otsu: bool = False
    a_t: float = 100.0  # minimum tissue area, in reference patches
    a_h: float = 16.0  # minimum hole area, in reference patches
    max_n_holes: int = 8  # holes kept per contour (the largest)
    ref_patch_size: int = 512  # level-0 side of the reference patch
    downsample: float = 64.0  # segmentation scale (CLAM: the level nearest below 64×)
    pen_saturation: int | None = None  # remove blue/green pixels above this saturation

    def __post_init__(self) -> None:
        for spec in fields(self):  # values from the command line arrive as text
            object.__setattr__(self, spec.name, _typed(spec.name, getattr(self, spec.name)))
        if self.mthresh < 1 or self.mthresh % 2 == 0:
            raise DataError(
                f"tissue preset: mthresh (median kernel) must be odd, got {self.mthresh}"
            )
        if self.close < 0 or self.max_n_holes < 0 or self.a_t < 0 or self.a_h < 0:
            raise DataError("tissue preset: close, areas and max_n_holes cannot be negative")
        if not 0 <= self.sthresh <= 255 or self.downsample < 1:
            raise DataError("tissue preset: sthresh must be 0–255 and downsample at least 1")
        if self.pen_saturation is not None and not 0 <= self.pen_saturation <= 255:
            raise DataError(
                f"tissue preset: pen_saturation {self.pen_saturation} must be 0–255 (or none)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, TissuePreset] = {
    "clam": TissuePreset(),
    "bwh_biopsy": TissuePreset(15, 255, 11, 2, False, 1, 1, 2),
    "bwh_resection": TissuePreset(15, 255, 11, 4, False, 100, 16, 8),
    "tcga": TissuePreset(8, 255, 7, 4, False, 16, 4, 8),
    "default": TissuePreset(a_t=1, a_h=1, pen_saturation=100),
}


def tissue_preset(name: str = "default", **overrides: Any) -> TissuePreset:
    """A named preset with some parameters replaced (an unknown name is an error)."""
    if name not in PRESETS:
        raise DataError(f"tissue preset {name!r}: choose one of {', '.join(PRESETS)}")
    known = {f.name for f in fields(TissuePreset)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise DataError(f"tissue preset: unknown parameter(s) {unknown}; known: {sorted(known)}")
    return replace(PRESETS[name], **overrides)


def segmentation_downsample(dimensions: tuple[int, int], preset: TissuePreset) -> float:
    """The preset's downsample, lowered so the thumbnail keeps at least SEGMENT_SIDE pixels."""
    return max(1.0, min(preset.downsample, max(dimensions) / SEGMENT_SIDE))


@dataclass
class TissueMask:
    """Tissue found on a thumbnail shrunk `downsample` times: the filled mask and the kept
    contours with their holes (thumbnail pixel coordinates, OpenCV's (n, 1, 2) arrays)."""

    mask: np.ndarray
    downsample: float
    contours: list[np.ndarray]
    holes: list[list[np.ndarray]]

    @property
    def empty(self) -> bool:
        return not self.contours

    def share(self, coords: np.ndarray, size0: float) -> np.ndarray:
        """The tissue share of each square patch (level-0 top-left `coords`, side `size0`)."""
        ds = self.downsample
        integral = np.pad(self.mask.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        height, width = self.mask.shape
        coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
        x0 = np.clip(np.floor(coords[:, 0] / ds), 0, width).astype(np.int64)
        y0 = np.clip(np.floor(coords[:, 1] / ds), 0, height).astype(np.int64)
        x1 = np.clip(np.ceil((coords[:, 0] + size0) / ds), 0, width).astype(np.int64)
        y1 = np.clip(np.ceil((coords[:, 1] + size0) / ds), 0, height).astype(np.int64)
        area = np.maximum(1, (x1 - x0) * (y1 - y0))
        total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        return total / area

    def to_geojson(self, name: str = "Tissue") -> dict[str, Any]:
        """Level-0 polygons (outer ring, then holes) as a FeatureCollection QuPath imports."""
        features = []
        for contour, holes in zip(self.contours, self.holes, strict=True):
            rings = [_ring(c, self.downsample) for c in (contour, *holes)]
            if rings[0] is None:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [r for r in rings if r]},
                    "properties": {
                        "objectType": "annotation",
                        "classification": {"name": name, "color": [0, 160, 0]},
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}

    def preview(self, thumbnail: np.ndarray) -> np.ndarray:
        """The thumbnail with tissue contours in green and holes in blue."""
        import cv2

        canvas = np.ascontiguousarray(thumbnail.copy())
        thickness = max(1, round(max(canvas.shape[:2]) / 400))
        cv2.drawContours(canvas, self.contours, -1, (0, 170, 0), thickness)
        cv2.drawContours(canvas, [h for hs in self.holes for h in hs], -1, (0, 0, 220), thickness)
        return canvas


def segment_tissue(
    thumbnail: np.ndarray, downsample: float, preset: TissuePreset | None = None
) -> TissueMask:
    """CLAM's segmentation of an RGB uint8 `thumbnail` taken `downsample` times below level 0."""
    import cv2

    preset = preset or PRESETS["default"]
    hsv = cv2.cvtColor(np.ascontiguousarray(thumbnail[..., :3]), cv2.COLOR_RGB2HSV)
    saturation = hsv[..., 1].copy()
    if preset.pen_saturation is not None:  # green (OpenCV hue 35–90) or blue (90–120) ink;
        hue = hsv[..., 0]  # dense haematoxylin sits above 120 (purple-blue) and is kept
        ink = (hue >= 35) & (hue <= 120) & (saturation > preset.pen_saturation)
        saturation[ink] = 0
    blurred = cv2.medianBlur(saturation, preset.mthresh)
    if preset.use_otsu:
        _, binary = cv2.threshold(
            blurred, 0, preset.sthresh_up, cv2.THRESH_OTSU + cv2.THRESH_BINARY
        )
    else:
        _, binary = cv2.threshold(blurred, preset.sthresh, preset.sthresh_up, cv2.THRESH_BINARY)
    if preset.close > 0:
        kernel = np.ones((preset.close, preset.close), np.uint8)
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel)
    reference = int(preset.ref_patch_size**2 / downsample**2)  # CLAM's scaled_ref_patch_area
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    kept, kept_holes = [], []
    if hierarchy is not None:
        parents = hierarchy[0][:, 3]
        for index in np.flatnonzero(parents == -1):
            inner = [contours[i] for i in np.flatnonzero(parents == index)]
            area = cv2.contourArea(contours[index]) - sum(cv2.contourArea(h) for h in inner)
            if area == 0 or area <= preset.a_t * reference:
                continue
            inner = sorted(inner, key=cv2.contourArea, reverse=True)[: preset.max_n_holes]
            kept.append(contours[index])
            kept_holes.append([h for h in inner if cv2.contourArea(h) > preset.a_h * reference])
    mask = np.zeros(binary.shape, bool)
    for contour, holes in zip(kept, kept_holes, strict=True):  # each contour less its own holes
        layer = np.zeros(binary.shape, np.uint8)
        cv2.drawContours(layer, [contour], -1, 1, cv2.FILLED)
        cv2.drawContours(layer, holes, -1, 0, cv2.FILLED)
        cv2.drawContours(layer, holes, -1, 1, 1)  # a hole's outline is tissue's edge
        mask |= layer.astype(bool)
    return TissueMask(mask, float(downsample), kept, kept_holes)


def _ring(contour: np.ndarray, downsample: float) -> list[list[float]] | None:
    """A closed GeoJSON ring in level-0 pixels, or None for a contour of under 3 points."""
    points = contour.reshape(-1, 2).astype(np.float64) * downsample
    if len(points) < 3:
        return None
    ring = [[round(float(x), 2), round(float(y), 2)] for x, y in points]
    return [*ring, ring[0]]
