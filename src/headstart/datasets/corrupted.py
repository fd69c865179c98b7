"""A dataset's items under one ImageNet-C corruption at one severity, for corrupted stores.

Items are rendered lazily (decoded, brought to the corruption size, corrupted) where the
encoder's preprocessing decodes them, so corruption runs in the embedding's worker threads and
a killed run resumes like any embedding. Each item's seed comes from the recipe's seed, the
item's id, the corruption and the severity: every encoder sees the very same corrupted image,
whatever the order or subset, so encoders stay paired.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from headstart.datasets.corruptions import CORRUPTIONS, SEVERITIES
from headstart.datasets.dataset import Dataset
from headstart.exceptions import DataError

CLEAN = "clean"  # the recipe of the reference: rendered the same way, not corrupted
IMAGENET_C_SIZE = 224  # ImageNet-C corrupts 224 × 224 centre crops of the validation images
# in every corrupted item's digest (so in store keys): change it when a definition changes
DEFINITION = "ImageNet-C corruptions, equal to imagecorruptions 1.1.2 (headstart 2026-12)"


@dataclass(frozen=True)
class CorruptionRecipe:
    """Which corruption, how strong, at what image size (None: each image's own) and seed."""

    corruption: str
    severity: int
    size: int | None = IMAGENET_C_SIZE
    seed: int = 0

    def __post_init__(self) -> None:
        if self.corruption == CLEAN:  # the same path, uncorrupted: the clean reference
            if self.severity != 0:
                raise DataError(f"the clean reference has severity 0, not {self.severity}")
        else:
            CORRUPTIONS.entry(self.corruption)  # an unknown name fails with suggestions
        if self.corruption != CLEAN and self.severity not in SEVERITIES:
            raise DataError(f"severity {self.severity!r}: corruption severities are 1 to 5")
        if self.size is not None and self.size < 32:
            raise DataError(
                f"corruption size {self.size}: the corruptions are defined for images of at "
                "least 32 × 32 pixels (as the imagecorruptions package requires)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        return f"{self.corruption}/{self.severity}"


def item_seed(recipe: CorruptionRecipe, item_id: str) -> int:
    """A 32-bit seed from the recipe's seed, corruption and severity and the item's id."""
    text = f"{recipe.seed}|{recipe.corruption}|{recipe.severity}|{item_id}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@dataclass(frozen=True)
class CorruptedImage:
    """One source item (a path or an array) to be shown under `recipe` with `seed`."""

    source: Any
    recipe: CorruptionRecipe
    seed: int

    def render(self) -> np.ndarray:
        """The corrupted RGB uint8 image: decoded, brought to the recipe's size (shorter side
        to size / 0.875, centre crop, as ImageNet-C's validation images), corrupted (not for
        the clean reference)."""
        from headstart.datasets.corruptions import corrupt
        from headstart.datasets.image_decoding import load_rgb, resize_image

        image = load_rgb(self.source)
        if self.recipe.size is not None:  # ImageNet-C's crop: shorter side to size / 0.875
            image = resize_image(image, self.recipe.size, "center-crop", 0.875, "bilinear")
        elif min(image.size) < 32:
            raise DataError(
                f"a {image.size[0]}×{image.size[1]} image is below the 32 × 32 pixels the "
                "corruptions are defined for; give a corruption size"
            )
        array = np.asarray(image, dtype=np.uint8)
        if self.recipe.corruption == CLEAN:
            return array
        return corrupt(array, self.recipe.corruption, self.recipe.severity, self.seed)

    def digest(self) -> bytes:
        """sha256 of the recipe, the seed and the source's content (for fingerprints)."""
        digest = hashlib.sha256(repr((DEFINITION, self.recipe.to_dict(), self.seed)).encode())
        if isinstance(self.source, np.ndarray):
            digest.update(np.ascontiguousarray(self.source).tobytes())
        else:
            with open(self.source, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        return digest.digest()


def corrupted_dataset(dataset: Dataset, positions: np.ndarray, recipe: CorruptionRecipe) -> Dataset:
    """The items at `positions` (the test rows) under `recipe`, as a dataset of their own:
    same ids, labels and class names; the recipe in its options (so in the store's record)
    and, through the items' digests, in its fingerprint and the store key."""
    if dataset.modality != "image":
        raise DataError(
            f"corruptions apply to images; dataset {dataset.name!r} holds {dataset.modality} items"
        )
    part = dataset.subset(np.asarray(positions, dtype=np.int64))
    items = [
        CorruptedImage(item, recipe, item_seed(recipe, item_id))
        for item, item_id in zip(part.items, part.ids, strict=True)
    ]
    return replace(
        part,
        items=items,
        split=np.full(len(items), "test", dtype=object),
        options={**part.options, "corruption": recipe.to_dict()},
    )
