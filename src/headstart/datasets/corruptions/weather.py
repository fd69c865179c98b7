"""Weather corruptions: snow, frost, fog, brightness; and the extra spatter (water or mud).

Frost overlays ImageNet-C's frost photographs, which ship with the `imagecorruptions` package
(found on disk, never imported: it no longer imports beside today's setuptools; install it with
--no-deps); frost's resize and spatter's edge and distance maps are OpenCV's, as in the
definition (the `robustness` extra brings headless OpenCV).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from headstart.datasets.corruptions.base import (
    clipped_zoom,
    hsv_to_rgb,
    register,
    rgb_to_hsv,
    skimage_gaussian,
    streak,
    to_uint8,
    unit,
)
from headstart.exceptions import MissingExtraError
from headstart.extras import require


@register("brightness", "weather", "HSV value raised by 0.1–0.5")
def brightness(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    shift = (0.1, 0.2, 0.3, 0.4, 0.5)[severity - 1]
    hsv = rgb_to_hsv(unit(image))
    hsv[..., 2] = np.clip(hsv[..., 2] + shift, 0.0, 1.0)
    return to_uint8(hsv_to_rgb(hsv))


def _gray(x: np.ndarray) -> np.ndarray:
    """OpenCV's RGB → grey for float images (ITU-R BT.601 weights)."""
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


@register("snow", "weather", "streaked snowflakes over a brightened, greyed image")
def snow(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """Gaussian noise zoomed in and thresholded into flakes, streaked by a motion blur at
    −135° to −45°, added twice (once turned half round) to the image pulled towards its
    brightened grey."""
    mean, spread, zoom, threshold, radius, sigma, keep = (
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    )[severity - 1]
    x = np.asarray(image, dtype=np.float32) / 255.0
    flakes = rng.normal(size=x.shape[:2], loc=mean, scale=spread)
    flakes = clipped_zoom(flakes[..., None], zoom)
    flakes[flakes < threshold] = 0
    flakes = np.clip(flakes[..., 0], 0, 1)
    flakes = streak(flakes, radius, sigma, rng.uniform(-135, -45))
    flakes = (np.round(flakes * 255).astype(np.uint8) / 255.0)[..., None]
    flakes = flakes[: x.shape[0], : x.shape[1]]
    x = keep * x + (1 - keep) * np.maximum(x, _gray(x)[..., None] * 1.5 + 0.5)
    height, width = flakes.shape[:2]  # a zoom that came out smaller covers the top left
    x[:height, :width] += flakes + np.rot90(flakes, k=2)
    return to_uint8(x)


def _frost_folder() -> Path:
    spec = importlib.util.find_spec("imagecorruptions")
    folder = Path(spec.submodule_search_locations[0]) / "frost" if spec else None
    if folder is None or not folder.is_dir():
        raise MissingExtraError(
            "frost overlays ImageNet-C's frost pictures, shipped with the 'imagecorruptions' "
            "package: pip install --no-deps imagecorruptions (headstart reads its pictures "
            "only; its code needs GUI OpenCV and an old setuptools)"
        )
    return folder


FROST_PICTURES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")


@functools.lru_cache(maxsize=16)
def _frost_picture(index: int, height: int, width: int) -> np.ndarray:
    """Frost picture `index` (BGR, as OpenCV reads it) scaled by 1.1 × what it takes to cover
    a `height` × `width` image (bicubic)."""
    require("cv2", "robustness", "the frost corruption")
    import cv2

    picture = cv2.imread(str(_frost_folder() / FROST_PICTURES[index]))
    scale = max(1.0, height / picture.shape[0], width / picture.shape[1]) * 1.1
    size = (int(np.ceil(picture.shape[1] * scale)), int(np.ceil(picture.shape[0] * scale)))
    return cv2.resize(picture, dsize=size, interpolation=cv2.INTER_CUBIC)


@register("frost", "weather", "one of ImageNet-C's frost pictures blended over the image")
def frost(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """A random crop of one of five frost pictures (the package draws among the first five of
    its six), blended: keep · image + weight · frost."""
    keep, weight = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))[severity - 1]
    height, width = image.shape[:2]
    picture = _frost_picture(rng.randint(5), height, width)
    top = rng.randint(0, picture.shape[0] - height)
    left = rng.randint(0, picture.shape[1] - width)
    overlay = picture[top : top + height, left : left + width][..., ::-1]  # BGR → RGB
    blended = keep * np.asarray(image, dtype=np.float64) + weight * overlay
    return np.clip(blended, 0, 255).astype(np.uint8)


def plasma_fractal(size: int, decay: float, rng: np.random.RandomState) -> np.ndarray:
    """A `size` × `size` (a power of two) height map in [0, 1] by the diamond–square
    algorithm, with noise of ±wibble² (wibble from 100, divided by `decay` each level),
    wrapping round at the edges as ImageNet-C's."""
    heights = np.zeros((size, size))
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        corners = heights[0:size:step, 0:size:step]
        total = corners + np.roll(corners, -1, axis=0)
        total = total + np.roll(total, -1, axis=1)
        heights[half:size:step, half:size:step] = total / 4 + wibble * rng.uniform(
            -wibble, wibble, total.shape
        )
        centres = heights[half:size:step, half:size:step]
        corners = heights[0:size:step, 0:size:step]
        across = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        heights[0:size:step, half:size:step] = across / 4 + wibble * rng.uniform(
            -wibble, wibble, across.shape
        )
        down = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        heights[half:size:step, 0:size:step] = down / 4 + wibble * rng.uniform(
            -wibble, wibble, down.shape
        )
        step //= 2
        wibble /= decay
    heights -= heights.min()
    return heights / heights.max()


@register("fog", "weather", "a plasma-fractal haze added, contrast lowered")
def fog(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    strength, decay = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))[severity - 1]
    x = unit(image)
    peak = x.max()
    side = max(x.shape)
    size = 1 << (side - 1).bit_length()  # the next power of two
    haze = plasma_fractal(size, decay, rng)[: x.shape[0], : x.shape[1], None]
    return to_uint8((x + strength * haze) * peak / (peak + strength))


def _water_shading(liquid: np.ndarray) -> np.ndarray:
    """ImageNet-C's water-drop shading: distance to the drops' Canny edges, truncated at 20,
    box-blurred, equalised, embossed and box-blurred again (all OpenCV)."""
    require("cv2", "robustness", "the spatter corruption")
    import cv2

    distance = cv2.distanceTransform(255 - cv2.Canny(liquid, 50, 150), cv2.DIST_L2, 5)
    _, distance = cv2.threshold(distance, 20, 20, cv2.THRESH_TRUNC)
    distance = cv2.equalizeHist(cv2.blur(distance, (3, 3)).astype(np.uint8))
    emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    distance = cv2.filter2D(distance, cv2.CV_8U, emboss)
    return cv2.blur(distance, (3, 3)).astype(np.float32)


@register("spatter", "extra", "water drops (severities 1–3) or mud (4–5) splashed on")
def spatter(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    mean, spread, sigma, threshold, strength, mud = (
        (0.65, 0.3, 4, 0.69, 0.6, False),
        (0.65, 0.3, 3, 0.68, 0.6, False),
        (0.65, 0.3, 2, 0.68, 0.5, False),
        (0.65, 0.3, 1, 0.65, 1.5, True),
        (0.67, 0.4, 1, 0.65, 1.5, True),
    )[severity - 1]
    x = np.asarray(image, dtype=np.float32) / 255.0
    liquid = skimage_gaussian(rng.normal(size=x.shape[:2], loc=mean, scale=spread), sigma)
    liquid[liquid < threshold] = 0
    if not mud:  # pale turquoise water, shaded by the drops' edges
        liquid = (liquid * 255).astype(np.uint8)
        shade = liquid * _water_shading(liquid)
        shade = shade / shade.max() * strength
        water = np.array([175, 238, 238]) / 255.0
        return to_uint8(x + shade[..., None] * water)
    drops = skimage_gaussian((liquid > threshold).astype(np.float32), strength)
    drops[drops < 0.8] = 0
    brown = np.array([63, 42, 20]) / 255.0
    return to_uint8(x * (1 - drops[..., None]) + drops[..., None] * brown)
