"""The data-quality benchmarks' shared start: a store's train and test rows, with the training
side cut to `per_class` random items of every class (seeded) when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.store import Store


def train_test(path: Path, per_class: int | None = None, seed: int = 0):
    """(X_train, y_train, X_test, y_test) of the store at `path`."""
    store = Store(path)
    X, y, split = store.vectors(), store.labels, np.asarray(store.split).astype(str)
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    if per_class:
        rng = np.random.default_rng(seed)
        train = np.sort(
            np.concatenate(
                [rng.permutation(train[y[train] == c])[:per_class] for c in np.unique(y[train])]
            )
        )
    return X[train], y[train], X[test], y[test]
