"""Image preprocessing with PIL and NumPy (no torchvision): decode → RGB → resize policy.

Output is a uint8 `(S, S, 3)` array; normalisation by the card's mean/std happens batched
inside the encoder, where it is one vectorised operation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from headstart.cards import EncoderCard
from headstart.datasets.image_decoding import (  # noqa: F401  (resizing lives below)
    INTERPOLATIONS,
    MAX_PIXELS,
    load_rgb,
    resize_image,
)


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
