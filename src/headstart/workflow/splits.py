"""Which rows of a store train and which test: the official split, else a stratified holdout."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from headstart.exceptions import DataError
from headstart.store import Store

PROVENANCE = "provenance.json"
HOLDOUT = 0.3  # test share when a store has no official split


def train_test_rows(store: Store) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices of the labelled train and test rows: the official split, else a fixed
    stratified 30% holdout; and which of the two it was."""
    labels, split = store.labels, store.split.astype(str)
    labelled = labels >= 0
    if (split == "test").any() and (split == "train").any():
        train = np.flatnonzero(labelled & (split == "train"))
        _need_two_classes(store, labels[train], "labelled training rows")
        return train, np.flatnonzero(labelled & (split == "test")), "official split"
    index = np.flatnonzero(labelled)
    _need_two_classes(store, labels[index], "labelled rows")
    if len(index) < 4:
        raise DataError(f"store {store.root} has {len(index)} labelled rows; need at least 4")
    counts = np.bincount(labels[index])
    present = np.flatnonzero(counts)
    n_test = int(np.ceil(HOLDOUT * len(index)))
    if counts[present].min() < 2 or n_test < len(present):
        names = store.class_names
        rare = [names[c] if c < len(names) else str(c) for c in present if counts[c] < 2]
        problem = (
            f"classes with a single row: {rare[:5]}"
            if rare
            else f"its {n_test} test rows cannot hold one row of each of {len(present)} classes"
        )
        raise DataError(
            f"store {store.root} has no official split, and a stratified {HOLDOUT:.0%} holdout "
            f"of its {len(index)} labelled rows is impossible: {problem}; embed more items or "
            "give the store a train/test split"
        )
    train, test = train_test_split(index, test_size=HOLDOUT, random_state=0, stratify=labels[index])
    return train, test, "stratified 30% holdout (seed 0)"


def _need_two_classes(store: Store, labels: np.ndarray, what: str) -> None:
    """A classifier needs two classes; say which one class there is."""
    present = np.unique(labels)
    if len(present) < 2:
        names = store.class_names
        only = names[present[0]] if len(present) and present[0] < len(names) else present
        raise DataError(
            f"store {store.root}: its {what} hold a single class ({only!r}); a classifier "
            "needs at least two"
        )


def train_test(store: Store) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Labelled train and test rows' vectors and labels (see `train_test_rows`)."""
    train, test, protocol = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    return vectors[train], labels[train], vectors[test], labels[test], protocol
