"""Digital corruptions: contrast, elastic transform, pixelate, JPEG; the extra saturate."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from headstart.datasets.corruptions.base import (
    hsv_to_rgb,
    register,
    rgb_to_hsv,
    skimage_gaussian,
    to_uint8,
    unit,
)


@register("contrast", "digital", "contrast towards each channel's mean, to 0.4–0.05")
def contrast(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    factor = (0.4, 0.3, 0.2, 0.1, 0.05)[severity - 1]
    x = unit(image)
    means = x.mean(axis=(0, 1), keepdims=True)
    return to_uint8((x - means) * factor + means)


@register("saturate", "extra", "HSV saturation scaled (0.3 to 20) and shifted")
def saturate(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    scale, shift = ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2))[severity - 1]
    hsv = rgb_to_hsv(unit(image))
    hsv[..., 1] = np.clip(hsv[..., 1] * scale + shift, 0.0, 1.0)
    return to_uint8(hsv_to_rgb(hsv))


@register("jpeg-compression", "digital", "JPEG at quality 25 down to 7")
def jpeg_compression(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    quality = (25, 18, 15, 10, 7)[severity - 1]
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)


@register("pixelate", "digital", "box-downsampled to 0.6–0.25 of the side and back")
def pixelate(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    share = (0.6, 0.5, 0.4, 0.3, 0.25)[severity - 1]
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    width, height = picture.size
    small = picture.resize((int(width * share), int(height * share)), Image.BOX)
    return np.asarray(small.resize((width, height), Image.BOX), dtype=np.uint8)


@register("elastic-transform", "digital", "pixels displaced by a smoothed random field")
def elastic_transform(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """The package's elastic transform (Simard et al.'s displacement field): uniform offsets of
    at most 0.5% of the height, smoothed by a Gaussian of 1% of the side, scaled by α, sampled
    bilinearly with mirrored borders."""
    from scipy.ndimage import map_coordinates

    alpha = 250 * (0.05, 0.065, 0.085, 0.1, 0.12)[severity - 1]
    x = np.asarray(image, dtype=np.float32) / 255.0
    height, width, channels = x.shape
    sigma = np.array([height, width]) * 0.01
    reach = height * 0.005
    fields = []
    for _ in range(2):  # dx then dy
        noise = rng.uniform(-reach, reach, size=(height, width))
        smooth = skimage_gaussian(noise, sigma, mode="reflect", truncate=3)
        fields.append((smooth * alpha).astype(np.float32)[..., None])
    dx, dy = fields
    cols, rows, planes = np.meshgrid(np.arange(width), np.arange(height), np.arange(channels))
    where = [(rows + dy).reshape(-1), (cols + dx).reshape(-1), planes.reshape(-1)]
    moved = map_coordinates(x, where, order=1, mode="reflect").reshape(x.shape)
    return to_uint8(moved)
