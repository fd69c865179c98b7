"""A Colored-MNIST-style set with a real shortcut (after Arjovsky et al. 2019's Colored MNIST,
the spurious-correlation benchmark of group-robustness work): real digits (mnist5k) or clothing
images (Fashion-MNIST), two classes (source classes 0–4 vs 5–9), each image painted red or
green. In training the colour matches the class (class 0 red, class 1 green) at
`train_rate`; in test at `test_rate` (0.5: uncorrelated; below 0.5: reversed). Groups are
class × colour, stored in the group column ("0–4|red", ...), so worst-group accuracy needs
no groups file.

Digits are painted on their strokes; clothing on its background (the garment stays grey), so
the colour is a feature separate from the object in both. Colours are drawn per item from the
seed; mnist5k has no official split, so 30% of it (stratified, seeded) is the test split.
"""

from __future__ import annotations

import numpy as np

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS, load_dataset
from headstart.exceptions import DataError

COLOURS = {"red": (230, 40, 40), "green": (40, 200, 40)}
SOURCES = {"digits": "mnist5k", "clothing": "fashion-mnist"}
CLASS_NAMES = ["0–4", "5–9"]


def paint(gray: np.ndarray, colour: tuple[int, int, int], where: str) -> np.ndarray:
    """RGB uint8 images from grey ones (n, 28, 28): the strokes (`foreground`) or the dark
    background (`background`) take `colour`, in proportion to the grey level."""
    level = gray.astype(np.float32)[..., None] / 255.0
    tint = np.asarray(colour, dtype=np.float32)
    rgb = level * tint if where == "foreground" else level * 255.0 + (1.0 - level) * tint
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def _split(labels: np.ndarray, source: Dataset, seed: int) -> np.ndarray:
    if source.split is not None:
        return np.asarray(source.split, dtype=object)
    rng = np.random.default_rng(seed)
    split = np.full(len(labels), "train", dtype=object)
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        split[rows[: round(0.3 * len(rows))]] = "test"
    return split


@DATASETS.register(
    "colored-mnist",
    "Colored-MNIST-style shortcut set: digits or clothing 0–4 vs 5–9, colour ≈ class in training",
)
def load_colored_mnist(
    source: str = "digits",
    train_rate: float = 0.9,
    test_rate: float = 0.5,
    seed: int = 0,
    path: str | None = None,
) -> Dataset:
    """`source`: digits (mnist5k, 5,000 items) or clothing (Fashion-MNIST, 70,000);
    `train_rate` / `test_rate`: the share of training / test items whose colour matches their
    class; `seed`: the colour draws (and mnist5k's split)."""
    if source not in SOURCES:
        raise DataError(f"colored-mnist source {source!r}: one of {', '.join(SOURCES)}")
    for name, rate in (("train_rate", train_rate), ("test_rate", test_rate)):
        if not 0.0 <= rate <= 1.0:
            raise DataError(f"colored-mnist {name} = {rate}: a share between 0 and 1")
    base = load_dataset(SOURCES[source], **({"path": path} if path else {}))
    labels = (base.labels >= 5).astype(np.int64)
    split = _split(labels, base, seed)
    rate = np.where(split == "test", test_rate, train_rate)
    matches = np.random.default_rng(seed + 1).random(len(labels)) < rate
    colour = np.where(matches, labels, 1 - labels)  # 0: red, 1: green
    names = list(COLOURS)
    where = "foreground" if source == "digits" else "background"
    images = np.empty((len(labels), 28, 28, 3), dtype=np.uint8)
    for index, name in enumerate(names):
        chosen = colour == index
        images[chosen] = paint(np.asarray(base.items)[chosen], COLOURS[name], where)
    groups = np.array([f"{CLASS_NAMES[y]}|{names[c]}" for y, c in zip(labels, colour, strict=True)])
    return Dataset(
        name="colored-mnist",
        items=images,
        labels=labels,
        class_names=list(CLASS_NAMES),
        ids=[f"colored-{i}" for i in base.ids],
        split=split,
        groups=groups,
        source=base.source,
        options={
            "source": source,
            "train_rate": train_rate,
            "test_rate": test_rate,
            "seed": seed,
            **({"path": path} if path else {}),
        },
    )
