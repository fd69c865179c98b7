"""Out-of-sample class probabilities: every item scored by a clone of the head fitted on the
other folds (stratified), so an item's own label never shapes its probability."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from headstart.exceptions import DataError


def out_of_fold_proba(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    train_mask: np.ndarray | None = None,
) -> np.ndarray:
    """(n, K) probabilities over the classes 0..K−1 of `y` (integer labels), cross-fitted.

    `train_mask`: only these items train the fold heads (all items are still scored) — the
    items a detector has called clean; a class it emptied keeps probability 0."""
    y = np.asarray(y)
    counts = np.bincount(y)
    if (counts[counts > 0] < folds).any():
        short = [int(c) for c in np.flatnonzero((counts > 0) & (counts < folds))]
        raise DataError(f"classes {short[:5]} have fewer items than the {folds} folds")
    out = np.zeros((len(y), len(counts)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, held in splitter.split(X, y):
        if train_mask is not None:
            train = train[np.asarray(train_mask)[train]]
        fitted = clone(model).fit(X[train], y[train])
        out[np.ix_(held, np.asarray(fitted.classes_, dtype=np.int64))] = fitted.predict_proba(
            X[held]
        )
    return out
