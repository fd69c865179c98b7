"""Generated whole-slide images for tests, the demo and benchmarks (no real slide ships in any
package we can install).

Each slide is a tiled, pyramidal TIFF (successive pages, as OpenSlide's generic-TIFF reader
expects) with microns-per-pixel resolution tags. Its tissue is textured with a real microscopy
image (scikit-image's immunohistochemistry image) under a per-slide stain shift; it has
background, holes and pen-like ink marks, and positive slides carry planted regions of a
different tissue (scikit-image's cell micrograph, stained purple). The layout is drawn on a
coarse grid (`LAYOUT` level-0 pixels per cell) and every pyramid level is rendered from it tile
by tile, so any slide size is written with bounded memory and the truth (tissue, planted) is
known for every patch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

from headstart.exceptions import DataError

LAYOUT = 16  # level-0 pixels per layout cell
# texture period at level 0 (each texture mirrored to this size); not a power of two, so patch
# grids of 256 or 512 px meet the texture at ever other phases instead of repeating one patch
# (levels below 1/8 round the period: their texture drifts a little; their layout does not)
PERIOD = 1000
BACKGROUND, TISSUE, PLANTED = 0, 1, 2
INKS = {1: (40, 60, 170), 2: (30, 130, 60)}  # blue and green pen, RGB
MIN_LEVEL_SIDE = 512  # the pyramid stops once a level's longer side is at most this


@dataclass(frozen=True)
class SlideSpec:
    """One generated slide: size, resolution, whether it is positive, its seed."""

    width: int = 8192
    height: int = 8192
    mpp: float | None = 0.5  # None: no resolution tags (a slide without mpp)
    positive: bool = False
    seed: int = 0
    tile: int = 256
    compression: str = "jpeg"  # or "zlib" (lossless, for pixel-exact tests)
    quality: int = 85
    pen: bool = True

    def __post_init__(self) -> None:
        if min(self.width, self.height) < 4 * LAYOUT or self.tile % 16:
            raise DataError("a generated slide needs sides ≥ 64 px and a tile multiple of 16")


@dataclass
class Layout:
    """The slide's design on the layout grid: region codes (BACKGROUND, TISSUE, PLANTED) and
    ink codes (0 none, else a key of INKS)."""

    regions: np.ndarray
    ink: np.ndarray
    stain: np.ndarray  # per-channel factors of this slide's tissue colour
    offset: tuple[int, int]  # texture offset at level 0


def make_layout(spec: SlideSpec) -> Layout:
    """Blobs of tissue (with an occasional hole), planted regions in positive slides, pen."""
    import cv2

    rng = np.random.default_rng(spec.seed)
    gh, gw = math.ceil(spec.height / LAYOUT), math.ceil(spec.width / LAYOUT)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    field = np.full((gh, gw), -2.0, np.float32)
    for _ in range(rng.integers(2, 5)):
        cy, cx = rng.uniform(0.3, 0.7) * gh, rng.uniform(0.3, 0.7) * gw
        ry, rx = rng.uniform(0.12, 0.3) * gh, rng.uniform(0.12, 0.3) * gw
        field = np.maximum(field, 1.0 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2)
    noise = cv2.GaussianBlur(rng.normal(size=(gh, gw)).astype(np.float32), (0, 0), max(gh, gw) / 40)
    noise /= noise.std() + 1e-6
    tissue = field + 0.15 * noise > 0.1
    if rng.random() < 0.5:  # a hole (a tear or a lumen) in the tissue
        inside = np.argwhere(tissue)
        cy, cx = inside[rng.integers(len(inside))]
        radius = rng.uniform(0.03, 0.06) * min(gh, gw)
        tissue &= (yy - cy) ** 2 + (xx - cx) ** 2 > radius**2
    regions = tissue.astype(np.uint8) * TISSUE
    if spec.positive:
        inside = np.argwhere(tissue)
        for _ in range(rng.integers(1, 4)):
            cy, cx = inside[rng.integers(len(inside))]
            ry, rx = (rng.uniform(0.05, 0.1) * n for n in (gh, gw))
            blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 + 0.2 * noise < 1.0
            regions[blob & tissue] = PLANTED
    ink = np.zeros((gh, gw), np.uint8)
    if spec.pen:
        for _ in range(rng.integers(1, 3)):  # an arc drawn around the tissue, as pathologists do
            centre = (int(gw * rng.uniform(0.35, 0.65)), int(gh * rng.uniform(0.35, 0.65)))
            axes = (int(gw * rng.uniform(0.38, 0.47)), int(gh * rng.uniform(0.38, 0.47)))
            start = float(rng.uniform(0, 360))
            colour = int(rng.integers(1, 3))
            thickness = max(1, round(min(gh, gw) / 120))
            cv2.ellipse(ink, centre, axes, 0.0, start, start + 70, colour, thickness)
    stain = rng.uniform(0.9, 1.1, size=3).astype(np.float32)
    offset = (int(rng.integers(PERIOD)), int(rng.integers(PERIOD)))
    return Layout(regions, ink, stain, offset)


@cache
def _texture(kind: str, downsample: int) -> np.ndarray:
    """A real micrograph mirrored to PERIOD × PERIOD (seamless when tiled), shrunk
    `downsample` times: "tissue" is the IHC image, "planted" the cell micrograph in purple."""
    import cv2
    from skimage import data

    if kind == "tissue":
        base = data.immunohistochemistry().astype(np.float32)
    else:
        grey = data.cell().astype(np.float32)[:512, :512] / 255.0
        dark, light = np.array([70, 30, 110], np.float32), np.array([190, 120, 200], np.float32)
        base = dark + (light - dark) * grey[..., None]
    half = cv2.resize(base, (PERIOD // 2, PERIOD // 2), interpolation=cv2.INTER_AREA)
    mirrored = np.concatenate([half, half[:, ::-1]], axis=1)
    mirrored = np.concatenate([mirrored, mirrored[::-1]], axis=0)
    side = max(1, round(PERIOD / downsample))
    return cv2.resize(mirrored, (side, side), interpolation=cv2.INTER_AREA)


def render_tile(
    spec: SlideSpec, layout: Layout, downsample: int, top: int, left: int, size: int
) -> np.ndarray:
    """The (size, size, 3) pixels at level coordinates (left, top) of the level `downsample`
    times smaller than level 0 (pixels beyond the level's edge are background)."""
    ys = (np.arange(top, top + size) * downsample + downsample // 2) // LAYOUT
    xs = (np.arange(left, left + size) * downsample + downsample // 2) // LAYOUT
    inside_y, inside_x = ys < layout.regions.shape[0], xs < layout.regions.shape[1]
    ys, xs = (
        np.minimum(ys, layout.regions.shape[0] - 1),
        np.minimum(xs, layout.regions.shape[1] - 1),
    )
    regions = layout.regions[np.ix_(ys, xs)]
    regions[~inside_y] = BACKGROUND
    regions[:, ~inside_x] = BACKGROUND
    texture = _texture("tissue", downsample)
    period = texture.shape[0]
    ty = (np.arange(top, top + size) + layout.offset[0] // downsample) % period
    tx = (np.arange(left, left + size) + layout.offset[1] // downsample) % period
    out = np.full((size, size, 3), 242.0, np.float32)
    tissue = regions == TISSUE
    out[tissue] = (texture[np.ix_(ty, tx)] * layout.stain)[tissue]
    planted = regions == PLANTED
    if planted.any():
        out[planted] = (_texture("planted", downsample)[np.ix_(ty, tx)] * layout.stain)[planted]
    ink = layout.ink[np.ix_(ys, xs)]
    for code, colour in INKS.items():
        marked = ink == code
        out[marked] = 0.2 * out[marked] + 0.8 * np.asarray(colour, np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def level_downsamples(spec: SlideSpec) -> list[int]:
    """1, 2, 4, ... until a level's longer side is at most MIN_LEVEL_SIDE."""
    downsamples = [1]
    while max(spec.width, spec.height) / downsamples[-1] > MIN_LEVEL_SIDE:
        downsamples.append(downsamples[-1] * 2)
    return downsamples


def write_slide(path: str | Path, spec: SlideSpec) -> Layout:
    """Write `spec` as a tiled pyramidal TIFF at `path`; returns its layout (the truth)."""
    import tifffile

    layout = make_layout(spec)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    big = spec.width * spec.height * 3 > 2**31
    options = {"compressionargs": {"level": spec.quality}} if spec.compression == "jpeg" else {}
    with tifffile.TiffWriter(path, bigtiff=big) as tiff:
        for k, down in enumerate(level_downsamples(spec)):
            width, height = math.ceil(spec.width / down), math.ceil(spec.height / down)
            resolution = {}
            if spec.mpp is not None:
                per_cm = 1e4 / (spec.mpp * down)
                resolution = {"resolution": (per_cm, per_cm), "resolutionunit": "CENTIMETER"}
            tiff.write(
                _tiles(spec, layout, down, width, height),
                shape=(height, width, 3),
                dtype=np.uint8,
                tile=(spec.tile, spec.tile),
                compression=spec.compression,
                photometric="rgb",
                subfiletype=0 if k == 0 else 1,
                **resolution,
                **options,
            )
    return layout


def _tiles(spec: SlideSpec, layout: Layout, down: int, width: int, height: int) -> Iterator:
    for top in range(0, height, spec.tile):
        for left in range(0, width, spec.tile):
            yield render_tile(spec, layout, down, top, left, spec.tile)


def damage_tile(path: str | Path, level: int, tile: int) -> None:
    """Overwrite part of one compressed tile of a written slide (for corrupt-tile tests):
    its decoder then fails on that tile, as on a damaged file."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[level]
        offset, count = page.dataoffsets[tile], page.databytecounts[tile]
    with open(path, "r+b") as handle:
        handle.seek(offset + count // 3)
        handle.write(b"\xff\xd9" + bytes(range(256)) * 2)


def planted_share(layout: Layout, coords: np.ndarray, size0: int) -> np.ndarray:
    """The share of each patch (level-0 top-left `coords`, side `size0`) that is planted."""
    planted = (layout.regions == PLANTED).astype(np.float64)
    integral = np.pad(planted.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    shares = []
    for x, y in np.asarray(coords, np.int64):
        x0, y0 = x // LAYOUT, y // LAYOUT
        x1, y1 = -(-(x + size0) // LAYOUT), -(-(y + size0) // LAYOUT)
        x1, y1 = min(x1, planted.shape[1]), min(y1, planted.shape[0])
        area = max(1, (x1 - x0) * (y1 - y0))
        total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        shares.append(total / area)
    return np.asarray(shares)


def planted_labels(layout: Layout, coords: np.ndarray, size0: int) -> np.ndarray:
    """1 for a patch at least half planted, 0 for one with no planted pixel, −1 in between
    (boundary patches, left out when scoring attention against the truth)."""
    share = planted_share(layout, coords, size0)
    return np.where(share >= 0.5, 1, np.where(share == 0, 0, -1))


def read_layout(folder: str | Path, slide: str) -> Layout:
    """The truth `make_slide_set` saved for `slide` (its region codes; no ink)."""
    regions = np.load(Path(folder) / "truth" / f"{slide}.npy", allow_pickle=False)
    return Layout(regions, np.zeros_like(regions), np.ones(3, np.float32), (0, 0))


def make_slide_set(
    folder: str | Path,
    slides: int = 24,
    size: int = 8192,
    positive_share: float = 0.5,
    mpp: float = 0.5,
    seed: int = 0,
    patients: int | None = None,
) -> Path:
    """A folder of generated slides with `labels.csv` (slide_id,label,patient) and, under
    `truth/`, each slide's layout (region and ink codes, NumPy .npy) for checking attention.
    Two slides of one patient share its label, as a patient's slides usually do."""
    folder = Path(folder)
    (folder / "truth").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    patients = patients or max(1, slides * 2 // 3)
    patient_of = [f"patient-{i % patients:03d}" for i in range(slides)]
    positive_patients = set(
        rng.choice(sorted(set(patient_of)), round(positive_share * patients), replace=False)
    )
    rows = ["slide_id,label,patient"]
    for i in range(slides):
        slide_id = f"slide-{i:03d}"
        positive = patient_of[i] in positive_patients
        spec = SlideSpec(size, size, mpp, positive, seed=seed * 100_003 + i)
        layout = write_slide(folder / f"{slide_id}.tiff", spec)
        np.save(folder / "truth" / f"{slide_id}.npy", layout.regions)
        (folder / "truth" / f"{slide_id}.json").write_text(json.dumps(asdict(spec)))
        rows.append(f"{slide_id},{'positive' if positive else 'negative'},{patient_of[i]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder
