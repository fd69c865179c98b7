"""From attributions to pictures and masks: a saliency map per image (the attribution's
magnitude summed over colour channels), a heat map over the image, and the keep-mask of the
top or bottom k% pixels that DiffROAR retrains on."""

from __future__ import annotations

import numpy as np
from PIL import Image

from headstart.exceptions import DataError


def saliency(attributions: np.ndarray) -> np.ndarray:
    """(B, C, S, S) attributions → (B, S, S): |attribution| summed over channels."""
    return np.abs(np.asarray(attributions)).sum(axis=1)


def keep_mask(maps: np.ndarray, share: float, top: bool) -> np.ndarray:
    """(B, S, S) booleans: each image's `share` (0–1) of pixels with the largest (`top`) or
    smallest saliency; ties broken by position (a stable sort)."""
    if not 0.0 < share < 1.0:
        raise DataError(f"the share of pixels kept must be between 0 and 1, got {share}")
    flat = np.asarray(maps).reshape(len(maps), -1)
    count = round(share * flat.shape[1])
    order = np.argsort(-flat if top else flat, axis=1, kind="stable")[:, :count]
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask.reshape(maps.shape)


def _colours(values: np.ndarray) -> np.ndarray:
    """[0, 1] → RGB through a black–red–yellow–white ramp (a 'hot' colour map)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    ramp = np.concatenate(
        [np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], axis=-1
    )
    return (ramp * 255).astype(np.uint8)


def heat_map(image: np.ndarray, salience: np.ndarray, alpha: float = 0.6) -> Image.Image:
    """The image (S, S, C uint8) and, beside it, its saliency (S, S) as a heat map over it
    (scaled to its 99th percentile)."""
    rgb = image if image.shape[-1] == 3 else np.repeat(image[..., :1], 3, axis=-1)
    top = float(np.percentile(salience, 99)) or 1.0
    heat = _colours(salience / top)
    blended = (alpha * heat + (1 - alpha) * rgb).astype(np.uint8)
    return Image.fromarray(np.concatenate([rgb.astype(np.uint8), blended], axis=1))
