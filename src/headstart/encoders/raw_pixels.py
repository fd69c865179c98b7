"""`raw-pixels`: the no-model baseline — resized pixel intensities in [0, 1] as the vector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headstart.cards import EncoderCard
from headstart.encoders.base import Encoder
from headstart.encoders.preprocess import ImagePreprocessor
from headstart.encoders.registry import ENCODERS


class RawPixels(Encoder):
    """Flattened `size × size` pixels (grayscale by default), scaled to [0, 1]."""

    def __init__(self, size: int = 28, color: str = "L", resize: str = "squash") -> None:
        if color not in ("L", "RGB"):
            raise ValueError(f"color must be 'L' or 'RGB', got {color!r}")
        if size < 1:
            raise ValueError(f"size must be a positive number of pixels, got {size}")
        channels = 1 if color == "L" else 3
        self.card = EncoderCard(
            name="raw-pixels",
            modality="image",
            output_dim=size * size * channels,
            weights="none",
            input_size=size,
            mean=(0.0,) * channels,
            std=(1.0,) * channels,
            resize=resize,
            crop_pct=1.0,
            interpolation="bilinear",
            color=color,
        )
        self.preprocessor = ImagePreprocessor(self.card)

    def encode_batch(self, prepared: Sequence[np.ndarray]) -> np.ndarray:
        if len(prepared) == 0:
            return np.empty((0, self.card.output_dim), np.float32)
        return np.stack(prepared).reshape(len(prepared), -1).astype(np.float32) / 255.0


@ENCODERS.register("raw-pixels", "baseline: resized pixels in [0, 1] (default 28×28 grayscale)")
def create_raw_pixels(
    size: int = 28,
    color: str = "L",
    resize: str = "squash",
    device: str = "cpu",
    precision: str = "fp32",
) -> RawPixels:
    """Raw pixels; `device` and `precision` are accepted for a uniform call and ignored."""
    return RawPixels(size=size, color=color, resize=resize)
