"""The corruption registry and the pieces several corruptions share (ImageNet-C's helpers)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from headstart.registry import Registry

Corruption = Callable[[np.ndarray, int, np.random.RandomState], np.ndarray]
CORRUPTIONS: Registry[Corruption] = Registry("corruption")
SEVERITIES = (1, 2, 3, 4, 5)
FAMILIES: dict[str, str] = {}  # corruption → noise, blur, weather, digital, extra


def register(name: str, family: str, summary: str):
    """Register a corruption `function(image, severity, rng)` under `name` in `family`."""

    def decorate(function: Corruption) -> Corruption:
        FAMILIES[name] = family
        CORRUPTIONS.register(name, summary)(lambda: function)
        return function

    return decorate


def unit(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float64) / 255.0


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8 as the package does: clip, scale, truncate."""
    return (np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hsv

    return rgb2hsv(x)


def hsv_to_rgb(x: np.ndarray) -> np.ndarray:
    from skimage.color import hsv2rgb

    return hsv2rgb(x)


def skimage_gaussian(x: np.ndarray, sigma, **options) -> np.ndarray:
    """scikit-image's Gaussian filter (nearest-edge borders, truncated at 4σ by default), the
    one ImageNet-C calls."""
    from skimage.filters import gaussian

    return gaussian(x, sigma=sigma, **options)


def translate(x: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`x` moved right by `dx` and down by `dy` pixels, the uncovered border repeating the
    nearest edge."""
    height, width = x.shape[:2]
    pads = [(abs(dy), abs(dy)), (abs(dx), abs(dx))] + [(0, 0)] * (x.ndim - 2)
    padded = np.pad(x, pads, mode="edge")
    top, left = abs(dy) - dy, abs(dx) - dx
    return padded[top : top + height, left : left + width]


def streak(x: np.ndarray, radius: int, sigma: float, degrees: float) -> np.ndarray:
    """The package's stand-in for ImageMagick's motion blur: `x` shifted along `degrees` over
    2r + 1 unit steps (rounded half down), weighted by a half-Gaussian of σ, until the streak
    leaves the image."""
    width = 2 * radius + 1
    weights = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2))
    weights /= weights.sum()
    towards = (width * np.sin(np.deg2rad(degrees)), width * np.cos(np.deg2rad(degrees)))
    length = math.hypot(*towards)
    blurred = np.zeros(x.shape, dtype=np.float64)
    for i in range(width):
        dy = -math.ceil(i * towards[0] / length - 0.5)
        dx = -math.ceil(i * towards[1] / length - 0.5)
        if abs(dy) >= x.shape[0] or abs(dx) >= x.shape[1]:
            break
        blurred += weights[i] * translate(x, dx, dy)
    return blurred


def clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """The centre 1/factor of `x` (H, W, C) zoomed back up by `factor` (bilinear; may come out
    a pixel smaller or larger than `x`, as ImageNet-C's own)."""
    from scipy.ndimage import zoom

    height = int(np.ceil(x.shape[0] / factor))
    width = int(np.ceil(x.shape[1] / factor))
    top, left = (x.shape[0] - height) // 2, (x.shape[1] - width) // 2
    return zoom(x[top : top + height, left : left + width], (factor, factor, 1), order=1)
