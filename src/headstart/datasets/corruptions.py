"""Image corruptions at severities 1–5 as Hendrycks & Dietterich define them for ImageNet-C
("Benchmarking Neural Network Robustness to Common Corruptions and Perturbations", 2019), for
images of any size (as the `imagecorruptions` package generalises them), written here because
that package no longer runs whole with today's NumPy and scikit-image (its glass blur, Gaussian
blur and fog fail, and it needs `pkg_resources`); tests compare every corruption with the
package's outputs where it runs (`tests/data/corruption_reference.npz`).

Each corruption takes an RGB uint8 array (H, W, 3), a severity and a seeded NumPy
`RandomState` (the legacy generator: the same draws as the package under `np.random.seed`),
and returns an RGB uint8 array of the same shape.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from headstart.exceptions import DataError
from headstart.registry import Registry

Corruption = Callable[[np.ndarray, int, np.random.RandomState], np.ndarray]
CORRUPTIONS: Registry[Corruption] = Registry("corruption")
SEVERITIES = (1, 2, 3, 4, 5)
FAMILIES: dict[str, str] = {}  # corruption → noise, blur, weather, digital, extra


def _register(name: str, family: str, summary: str):
    def decorate(function: Corruption) -> Corruption:
        FAMILIES[name] = family
        CORRUPTIONS.register(name, summary)(lambda: function)
        return function

    return decorate


def _unit(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float64) / 255.0


def _uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8 as the package does: clip, scale, truncate."""
    return (np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hsv

    return rgb2hsv(x)


def _hsv_to_rgb(x: np.ndarray) -> np.ndarray:
    from skimage.color import hsv2rgb

    return hsv2rgb(x)


@_register("gaussian-noise", "noise", "additive Gaussian noise, σ 0.08–0.38")
def gaussian_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    scale = (0.08, 0.12, 0.18, 0.26, 0.38)[severity - 1]
    x = _unit(image)
    return _uint8(x + rng.normal(size=x.shape, scale=scale))


@_register("shot-noise", "noise", "Poisson noise, 60 to 3 photons per unit intensity")
def shot_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    photons = (60, 25, 12, 5, 3)[severity - 1]
    return _uint8(rng.poisson(_unit(image) * photons) / photons)


@_register("impulse-noise", "noise", "salt-and-pepper noise on 3% to 27% of the values")
def impulse_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-image's `random_noise(mode="s&p")` as the package calls it — each value flipped
    with probability `amount`, to 1 or 0 with even odds — drawn from our seeded generator."""
    amount = (0.03, 0.06, 0.09, 0.17, 0.27)[severity - 1]
    x = _unit(image)
    flipped = rng.random_sample(x.shape) <= amount
    salted = rng.random_sample(x.shape) <= 0.5
    x[flipped & salted], x[flipped & ~salted] = 1.0, 0.0
    return _uint8(x)


@_register("gaussian-blur", "extra", "Gaussian blur, σ 1 to 6 pixels")
def gaussian_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    from skimage.filters import gaussian

    sigma = (1, 2, 3, 4, 6)[severity - 1]
    return _uint8(gaussian(_unit(image), sigma=sigma, channel_axis=-1))


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


@_register("defocus-blur", "blur", "a disk kernel of radius 3 to 10 pixels")
def defocus_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    from scipy.ndimage import correlate

    radius, alias = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))[severity - 1]
    kernel = disk(radius, alias)
    x = _unit(image)
    channels = [correlate(x[..., c], kernel, mode="mirror") for c in range(3)]
    return _uint8(np.stack(channels, axis=-1))


def _translate(x: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`x` moved right by `dx` and down by `dy` pixels, the uncovered border repeating the
    nearest edge."""
    height, width = x.shape[:2]
    padded = np.pad(x, ((abs(dy), abs(dy)), (abs(dx), abs(dx)), (0, 0)), mode="edge")
    top, left = abs(dy) - dy, abs(dx) - dx
    return padded[top : top + height, left : left + width]


@_register("motion-blur", "blur", "a Gaussian-weighted streak of 21 to 41 pixels, random angle")
def motion_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """The package's stand-in for ImageNet-C's ImageMagick motion blur: the image shifted along
    a random direction (±45°) over 2r + 1 steps, weighted by a half-Gaussian of σ."""
    radius, sigma = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))[severity - 1]
    angle = np.deg2rad(rng.uniform(-45, 45))
    width = 2 * radius + 1
    weights = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2))
    weights /= weights.sum()
    x = np.asarray(image, dtype=np.float64)
    blurred = np.zeros_like(x)
    for i in range(width):  # unit steps along the direction (sin, cos), rounded half down
        dy = -int(np.ceil(i * np.sin(angle) - 0.5))
        dx = -int(np.ceil(i * np.cos(angle) - 0.5))
        if abs(dy) >= x.shape[0] or abs(dx) >= x.shape[1]:
            break  # the streak left the image
        blurred += weights[i] * _translate(x, dx, dy)
    return np.clip(blurred, 0, 255).astype(np.uint8)


def _clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """The centre 1/factor of `x` zoomed back up by `factor` (bilinear; may come out a pixel
    smaller or larger than `x`, as ImageNet-C's own)."""
    from scipy.ndimage import zoom

    height = int(np.ceil(x.shape[0] / factor))
    width = int(np.ceil(x.shape[1] / factor))
    top, left = (x.shape[0] - height) // 2, (x.shape[1] - width) // 2
    return zoom(x[top : top + height, left : left + width], (factor, factor, 1), order=1)


ZOOMS = (  # the zoom factors averaged at each severity (ImageNet-C)
    np.arange(1, 1.11, 0.01),
    np.arange(1, 1.16, 0.01),
    np.arange(1, 1.21, 0.02),
    np.arange(1, 1.26, 0.02),
    np.arange(1, 1.31, 0.03),
)


@_register("zoom-blur", "blur", "the mean of the image zoomed in by up to 1.1–1.3×")
def zoom_blur(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    factors = ZOOMS[severity - 1]
    x = (np.asarray(image) / 255.0).astype(np.float32)
    total = np.zeros_like(x)
    for factor in factors:
        layer = _clipped_zoom(x, float(factor))[: x.shape[0], : x.shape[1]]
        total[: layer.shape[0], : layer.shape[1]] += layer
    return _uint8((x + total) / (len(factors) + 1))


@_register("speckle-noise", "extra", "multiplicative Gaussian noise, σ 0.15–0.6")
def speckle_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    scale = (0.15, 0.2, 0.35, 0.45, 0.6)[severity - 1]
    x = _unit(image)
    return _uint8(x + x * rng.normal(size=x.shape, scale=scale))


@_register("contrast", "digital", "contrast towards each channel's mean, to 0.4–0.05")
def contrast(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    factor = (0.4, 0.3, 0.2, 0.1, 0.05)[severity - 1]
    x = _unit(image)
    means = x.mean(axis=(0, 1), keepdims=True)
    return _uint8((x - means) * factor + means)


@_register("brightness", "weather", "HSV value raised by 0.1–0.5")
def brightness(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    shift = (0.1, 0.2, 0.3, 0.4, 0.5)[severity - 1]
    hsv = _rgb_to_hsv(_unit(image))
    hsv[..., 2] = np.clip(hsv[..., 2] + shift, 0.0, 1.0)
    return _uint8(_hsv_to_rgb(hsv))


@_register("saturate", "extra", "HSV saturation scaled (0.3 to 20) and shifted")
def saturate(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    scale, shift = ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2))[severity - 1]
    hsv = _rgb_to_hsv(_unit(image))
    hsv[..., 1] = np.clip(hsv[..., 1] * scale + shift, 0.0, 1.0)
    return _uint8(_hsv_to_rgb(hsv))


@_register("jpeg-compression", "digital", "JPEG at quality 25 down to 7")
def jpeg_compression(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    quality = (25, 18, 15, 10, 7)[severity - 1]
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)


@_register("pixelate", "digital", "box-downsampled to 0.6–0.25 of the side and back")
def pixelate(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    share = (0.6, 0.5, 0.4, 0.3, 0.25)[severity - 1]
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    width, height = picture.size
    small = picture.resize((int(width * share), int(height * share)), Image.BOX)
    return np.asarray(small.resize((width, height), Image.BOX), dtype=np.uint8)


def corrupt(image: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """`image` (H, W, 3 uint8) under corruption `name` at `severity` (1–5), seeded."""
    if severity not in SEVERITIES:
        raise DataError(f"severity {severity!r}: corruption severities are 1 to 5")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise DataError(
            f"corruptions take RGB uint8 images (H, W, 3); got {image.dtype} {image.shape}"
        )
    function = CORRUPTIONS.create(name)
    return function(image, severity, np.random.RandomState(seed))
