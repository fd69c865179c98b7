"""Blur corruptions: defocus, glass, motion, zoom, and the extra Gaussian blur."""

from __future__ import annotations

import numpy as np

from headstart.datasets.corruptions.base import (
    clipped_zoom,
    register,
    skimage_gaussian,
    streak,
    to_uint8,
    unit,
)


@register("gaussian-blur", "extra", "Gaussian blur, σ 1 to 6 pixels")
def gaussian_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    sigma = (1, 2, 3, 4, 6)[severity - 1]
    return to_uint8(skimage_gaussian(unit(image), sigma, channel_axis=-1))


def _gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """OpenCV's `getGaussianKernel`: exp(−i²/2σ²) over the `size` taps, normalised."""
    taps = np.arange(size) - (size - 1) / 2
    weights = np.exp(-(taps**2) / (2 * sigma**2))
    return weights / weights.sum()


def disk(radius: int, alias_blur: float) -> np.ndarray:
    """ImageNet-C's defocus kernel: a disk of `radius` on a grid of at least 17 × 17,
    normalised, then smoothed by a 3 × 3 (5 × 5 above radius 8) Gaussian of σ `alias_blur`
    (reflect-101 borders, as OpenCV's GaussianBlur)."""
    from scipy.ndimage import correlate1d

    half, size = (8, 3) if radius <= 8 else (radius, 5)
    grid = np.arange(-half, half + 1)
    X, Y = np.meshgrid(grid, grid)
    kernel = (radius**2 >= (X**2 + Y**2)).astype(np.float32)
    kernel /= kernel.sum()
    taps = _gaussian_kernel(size, alias_blur)
    for axis in (0, 1):
        kernel = correlate1d(kernel, taps, axis=axis, mode="mirror")
    return kernel


@register("defocus-blur", "blur", "a disk kernel of radius 3 to 10 pixels")
def defocus_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    from scipy.ndimage import correlate

    radius, alias = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))[severity - 1]
    kernel = disk(radius, alias)
    x = unit(image)
    channels = [correlate(x[..., c], kernel, mode="mirror") for c in range(3)]
    return to_uint8(np.stack(channels, axis=-1))


def _copy_walk(source: np.ndarray, walk: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """`source[walk[i]] = source[taken[i]]` for i in order, without the Python loop: positions
    are visited in decreasing index, so a position taking from a larger, already visited one
    gets that one's new value (a chain, resolved by pointer jumping), any other the old value."""
    visited = np.zeros(len(source), dtype=bool)
    visited[walk] = True
    link = np.arange(len(source))
    value = source.copy()
    chained = visited[taken] & (taken > walk)
    link[walk[chained]] = taken[chained]
    value[walk[~chained]] = source[taken[~chained]]
    while True:
        jumped = link[link]
        if np.array_equal(jumped, link):
            return value[link]
        link = jumped


@register("glass-blur", "blur", "Gaussian blur, pixels moved up to 1–4 away, blurred again")
def glass_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """ImageNet-C's glass blur as its code runs: blur, then walk the pixels bottom-right to
    top-left (a border of `reach` left alone), `rounds` times, each taking the value of a pixel
    at a random offset in [−reach, reach) — the code's "swap" of two NumPy views copies one way
    — then blur again."""
    sigma, reach, rounds = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))[
        severity - 1
    ]
    x = to_uint8(skimage_gaussian(unit(image), sigma, channel_axis=-1))
    height, width = x.shape[:2]
    rows, cols = np.arange(height - reach, reach, -1), np.arange(width - reach, reach, -1)
    walk = (rows[:, None] * width + cols[None, :]).reshape(-1)  # the visiting order
    offsets = rng.randint(-reach, reach, size=(rounds * len(walk), 2))
    source = np.arange(height * width)  # the pixel each position now holds
    for step in range(rounds):
        dx, dy = offsets[step * len(walk) : (step + 1) * len(walk)].T
        source = _copy_walk(source, walk, walk + dy * width + dx)
    moved = x.reshape(height * width, -1)[source].reshape(x.shape)
    return to_uint8(skimage_gaussian(moved / 255.0, sigma, channel_axis=-1))


@register("motion-blur", "blur", "a Gaussian-weighted streak of 21 to 41 pixels, random angle")
def motion_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """The package's stand-in for ImageNet-C's ImageMagick motion blur, at a random angle
    within ±45°."""
    radius, sigma = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))[severity - 1]
    blurred = streak(np.asarray(image, dtype=np.float64), radius, sigma, rng.uniform(-45, 45))
    return np.clip(blurred, 0, 255).astype(np.uint8)


ZOOMS = (  # the zoom factors averaged at each severity (ImageNet-C)
    np.arange(1, 1.11, 0.01),
    np.arange(1, 1.16, 0.01),
    np.arange(1, 1.21, 0.02),
    np.arange(1, 1.26, 0.02),
    np.arange(1, 1.31, 0.03),
)


@register("zoom-blur", "blur", "the mean of the image zoomed in by up to 1.1–1.3×")
def zoom_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    factors = ZOOMS[severity - 1]
    x = (np.asarray(image) / 255.0).astype(np.float32)
    total = np.zeros_like(x)
    for factor in factors:
        layer = clipped_zoom(x, float(factor))[: x.shape[0], : x.shape[1]]
        total[: layer.shape[0], : layer.shape[1]] += layer
    return to_uint8((x + total) / (len(factors) + 1))
