"""Augmented views of support images: random resized crop + horizontal flip (Tip-Adapter's and
the GDA baseline's recipe: crop scale (0.5, 1), aspect ratio (3/4, 4/3), bicubic, flip p 0.5).

View 0 is the plain image exactly as the encoder's own preprocessing makes it; views 1..n−1
are augmented. Each item's views are drawn from a generator seeded by (recipe seed, item
position), so they do not depend on batching, threads or a resumed run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from headstart.cards import EncoderCard
from headstart.datasets.image_decoding import MAX_PIXELS, load_rgb
from headstart.encoders.preprocess import INTERPOLATIONS, ImagePreprocessor

CROP_ATTEMPTS = 10  # tries at a box of the drawn area and aspect before the centre fallback


@dataclass(frozen=True)
class ViewRecipe:
    """How the views are made; recorded in the store's manifest and hashed into its key."""

    views: int  # views per item, the plain view 0 included
    seed: int = 0
    scale: tuple[float, float] = (0.5, 1.0)  # crop area as a fraction of the image
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop aspect ratio (width / height)
    flip: float = 0.5  # probability of a horizontal flip
    interpolation: str = "bicubic"
    version: str = "random-resized-crop-flip/1"

    def __post_init__(self) -> None:
        if self.views < 2:
            raise ValueError(f"views must be at least 2 (view 0 is the plain image), got {self}")
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop scale must satisfy 0 < low ≤ high ≤ 1, got {self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"aspect ratio range must be positive and ordered, got {self.ratio}")
        if not 0 <= self.flip <= 1:
            raise ValueError(f"flip probability must be in [0, 1], got {self.flip}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scale"], data["ratio"] = list(self.scale), list(self.ratio)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViewRecipe:
        return cls(**{**data, "scale": tuple(data["scale"]), "ratio": tuple(data["ratio"])})


def random_resized_box(
    width: int, height: int, rng: np.random.Generator, scale: tuple, ratio: tuple
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a crop with area ∈ scale·(W·H), aspect ∈ ratio (log-uniform).

    As the standard RandomResizedCrop: up to 10 draws; if none fits, the centre crop of the
    whole image with its aspect clamped into `ratio`.
    """
    area = width * height
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(CROP_ATTEMPTS):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(log_low, log_high))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(rng.integers(0, width - w + 1))
            top = int(rng.integers(0, height - h + 1))
            return left, top, left + w, top + h
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


class ImageViews:
    """(item, position, n) → n uint8 arrays shaped like the encoder's prepared input.

    `n` is 1 for items that get no views (test items): just the plain preprocessing.
    """

    def __init__(self, card: EncoderCard, recipe: ViewRecipe, max_pixels: int = MAX_PIXELS):
        self.card = card
        self.recipe = recipe
        self.plain = ImagePreprocessor(card, max_pixels)
        self.max_pixels = max_pixels

    def __call__(self, task: tuple[Any, int, int]) -> list[np.ndarray]:
        item, position, n = task
        views = [self.plain(item)]
        if n == 1:
            return views
        image = load_rgb(item, self.max_pixels)
        if self.card.color != "RGB":
            image = image.convert(self.card.color)
        rng = np.random.default_rng([self.recipe.seed, position])
        size, method = self.card.input_size, INTERPOLATIONS[self.recipe.interpolation]
        for _ in range(n - 1):
            box = random_resized_box(*image.size, rng, self.recipe.scale, self.recipe.ratio)
            view = image.resize((size, size), method, box=box)
            if rng.random() < self.recipe.flip:
                view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            array = np.asarray(view, dtype=np.uint8)
            views.append(array if array.ndim == 3 else array[:, :, None])
        return views
