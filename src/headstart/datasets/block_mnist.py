"""BlockMNIST (Shah, Jain & Netrapalli, "Do Input Gradients Highlight Discriminative
Features?", NeurIPS 2021): every image stacks a real MNIST digit block (the discriminative
part) and a fixed "null" block (the same for every image, so it carries no class
information), top or bottom at random. An attribution that highlights discriminative features
puts its mass on the digit block; the paper finds standard models' input gradients do not
(feature inversion).

Variant: each 28 × 28 block is centred in a 56-pixel-wide band, so images are 56 × 56 and
encoders that centre-crop a square see both blocks whole (the paper's images are the two
blocks alone); the null block here is a hollow square (16 × 16, 2 pixels thick) — the paper's
exact null pattern is in its appendix, which we could not read offline. Digits are mnist5k's,
all ten classes; 30% of each class (seeded) is the test split. The group column records where
the digit is ("digit-top", "digit-bottom").
"""

from __future__ import annotations

import numpy as np

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS, load_dataset

SIDE = 56


def null_block() -> np.ndarray:
    """The 28 × 28 null block: a centred hollow 16 × 16 square, 2 pixels thick, value 255."""
    block = np.zeros((28, 28), dtype=np.uint8)
    block[6:22, 6:22] = 255
    block[8:20, 8:20] = 0
    return block


def stack(digit: np.ndarray, top: bool) -> np.ndarray:
    """A 56 × 56 image: the digit block above (`top`) or below the null block."""
    image = np.zeros((SIDE, SIDE), dtype=np.uint8)
    first, second = (digit, null_block()) if top else (null_block(), digit)
    image[:28, 14:42], image[28:, 14:42] = first, second
    return image


@DATASETS.register(
    "block-mnist", "BlockMNIST: a digit block and a fixed null block, in random order (56×56)"
)
def load_block_mnist(seed: int = 0, path: str | None = None) -> Dataset:
    """`seed`: which images have the digit on top (each with probability ½) and the split."""
    base = load_dataset("mnist5k", **({"path": path} if path else {}))
    rng = np.random.default_rng(seed)
    top = rng.random(len(base)) < 0.5
    images = np.stack([stack(d, t) for d, t in zip(np.asarray(base.items), top, strict=True)])
    split = np.full(len(base), "train", dtype=object)
    for c in np.unique(base.labels):
        rows = rng.permutation(np.flatnonzero(base.labels == c))
        split[rows[: round(0.3 * len(rows))]] = "test"
    return Dataset(
        name="block-mnist",
        items=images,
        labels=base.labels,
        class_names=list(base.class_names),
        ids=[f"block-{i}" for i in base.ids],
        split=split,
        groups=np.where(top, "digit-top", "digit-bottom"),
        source=base.source,
        options={"seed": seed, **({"path": path} if path else {})},
    )
