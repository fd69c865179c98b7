"""Image preprocessing with PIL and NumPy (no torchvision): decode → RGB → resize policy.

Output is a uint8 `(S, S, 3)` array; normalisation by the card's mean/std happens batched
inside the encoder, where it is one vectorised operation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from headstart.cards import RESIZE_POLICIES, EncoderCard
from headstart.datasets.image_decoding import MAX_PIXELS, load_rgb

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def resize_image(
    image: Image.Image, size: int, policy: str, crop_pct: float, interpolation: str
) -> Image.Image:
    """Resize by policy: `center-crop` (shorter side to size/crop_pct, crop) or `squash`.

    The center crop is taken in source coordinates (`resize(box=...)`), so only the kept
    pixels are resampled: the same result as resize-then-crop, in about 70% of the time.
    """
    method = INTERPOLATIONS[interpolation]
    if policy == "squash":
        return image.resize((size, size), method)
    if policy != "center-crop":
        raise ValueError(f"resize policy must be one of {RESIZE_POLICIES}, got {policy!r}")
    width, height = image.size
    scale = max(size, round(size / crop_pct)) / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    box = (left / scale, top / scale, (left + size) / scale, (top + size) / scale)
    return image.resize((size, size), method, box=box)


def decode_side(card: EncoderCard) -> int:
    """The shorter side a decoded image needs before resizing (JPEG decoders may shrink to it)."""
    if card.resize == "center-crop":
        return max(card.input_size, round(card.input_size / card.crop_pct))
    return card.input_size


class ImagePreprocessor:
    """Item → uint8 `(S, S, C)` array following an encoder card's preprocessing fields."""

    def __init__(self, card: EncoderCard, max_pixels: int = MAX_PIXELS) -> None:
        self.card = card
        self.max_pixels = max_pixels

    def __call__(self, item: Any) -> np.ndarray:
        image = load_rgb(item, self.max_pixels, min_side=decode_side(self.card))
        if self.card.color != "RGB":
            image = image.convert(self.card.color)
        size = self.card.input_size
        image = resize_image(
            image, size, self.card.resize, self.card.crop_pct, self.card.interpolation
        )
        array = np.asarray(image, dtype=np.uint8)
        return array if array.ndim == 3 else array[:, :, None]
