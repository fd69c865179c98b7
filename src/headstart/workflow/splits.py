"""The one rule for which rows train and which test, used by every command that learns from a
store or dataset: `eval` (every protocol), `fit` and `--extend`, `adapt`, `tune_encoder`, the
sanity score and the audit's train/test leak check.

- **Test rows**: the official 'test' split when there are 'train' and 'test' rows; else a
  stratified 30% of the labelled rows (seed 0), the same rows every time.
- **Training rows**: the labelled rows of the 'train' split; without an official split, the
  labelled rows not held out.
- **Unlabelled pool**: unlabelled rows outside the test split, for what learns without labels
  (adapters, transductive heads). 'val' rows of an official split neither train nor test.

Nothing trains on a test row, so every number measured on them is honest — including the
accuracy of a model `fit` saved (`fit --all-rows` opts out, and says so in its provenance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from headstart.exceptions import DataError
from headstart.store import Store

PROVENANCE = "provenance.json"
HOLDOUT = 0.3  # test share when a store has no official split
OFFICIAL = "official split"
HELD_OUT = f"stratified {HOLDOUT:.0%} holdout (seed 0)"
ALL_ROWS = "every labelled row (--all-rows: none held out)"


@dataclass(frozen=True)
class Rows:
    """Row indices by role under the rule, and which form of the rule applied."""

    train: np.ndarray
    test: np.ndarray
    unlabelled: np.ndarray
    rule: str

    def learning(self) -> np.ndarray:
        """Rows that may shape a model without labels: training rows and the unlabelled pool."""
        return np.sort(np.concatenate([self.train, self.unlabelled]))

    def parts(self, n: int) -> np.ndarray:
        """Each row's role as a string ("train", "test", or "" for neither)."""
        roles = np.full(n, "", dtype=object)
        roles[self.train], roles[self.test] = "train", "test"
        return roles


def split_rows(
    labels: np.ndarray,
    split: np.ndarray | None,
    where: str,
    class_names: list[str] | None = None,
    classes: int = 2,
) -> Rows:
    """The rule on label and split arrays (`where` names the store or dataset in errors).
    `classes`: how many classes the training rows must hold (2 for a classifier, 1 to add
    one class to a model, 0 for what may learn from unlabelled rows alone)."""
    labels = np.asarray(labels)
    split = np.asarray(split if split is not None else [""] * len(labels)).astype(str)
    labelled, names = labels >= 0, class_names or []
    if (split == "test").any() and (split == "train").any():
        train = np.flatnonzero(labelled & (split == "train"))
        _need_classes(where, names, labels[train], "labelled training rows", classes)
        unlabelled = np.flatnonzero(~labelled & (split != "test"))
        return Rows(train, np.flatnonzero(labelled & (split == "test")), unlabelled, OFFICIAL)
    index = np.flatnonzero(labelled)
    if not len(index) and classes == 0:  # nothing labelled: every row is the unlabelled pool
        return Rows(index, index, np.arange(len(labels)), "no labels: every row unlabelled")
    _need_classes(where, names, labels[index], "labelled rows", classes)
    if len(index) < 4:
        raise DataError(f"{where} has {len(index)} labelled rows; need at least 4")
    counts = np.bincount(labels[index])
    present = np.flatnonzero(counts)
    n_test = int(np.ceil(HOLDOUT * len(index)))
    if counts[present].min() < 2 or n_test < len(present):
        rare = [names[c] if c < len(names) else str(c) for c in present if counts[c] < 2]
        problem = (
            f"classes with a single row: {rare[:5]}"
            if rare
            else f"its {n_test} test rows cannot hold one row of each of {len(present)} classes"
        )
        raise DataError(
            f"{where} has no official split, and a stratified {HOLDOUT:.0%} holdout "
            f"of its {len(index)} labelled rows is impossible: {problem}; embed more items or "
            "give the store a train/test split"
        )
    train, test = train_test_split(index, test_size=HOLDOUT, random_state=0, stratify=labels[index])
    return Rows(train, test, np.flatnonzero(~labelled), HELD_OUT)  # in the draw's order


def store_rows(store: Store, classes: int = 2) -> Rows:
    """The rule on a store (`classes`: see `split_rows`)."""
    where = f"store {store.root}"
    return split_rows(store.labels, store.split, where, store.class_names, classes)


def fitting_rows(store: Store, all_rows: bool = False, classes: int = 2) -> tuple[np.ndarray, str]:
    """The rows a saved model learns from: the rule's training rows, or with `all_rows`
    every labelled row (the user's explicit choice; nothing is then left to check it on)."""
    if not all_rows:
        rows = store_rows(store, classes)
        return rows.train, rows.rule
    rows = np.flatnonzero(store.labels >= 0)
    _need_classes(
        f"store {store.root}", store.class_names, store.labels[rows], "labelled rows", classes
    )
    return rows, ALL_ROWS


def train_test_rows(store: Store) -> tuple[np.ndarray, np.ndarray, str]:
    """(training rows, test rows, which form of the rule applied) of a store."""
    rows = store_rows(store)
    return rows.train, rows.test, rows.rule


def _need_classes(where: str, names: list[str], labels: np.ndarray, what: str, n: int) -> None:
    """A classifier needs two classes (say which one class there is); adding classes, one."""
    present = np.unique(labels)
    if n >= 2 and len(present) < 2:
        only = names[present[0]] if len(present) and present[0] < len(names) else present
        raise DataError(
            f"{where}: its {what} hold a single class ({only!r}); a classifier needs at least two"
        )
    if n == 1 and not len(present):
        raise DataError(f"{where}: its {what} hold no labelled row")


def train_test(store: Store) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Labelled train and test rows' vectors and labels (see `train_test_rows`)."""
    train, test, protocol = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    return vectors[train], labels[train], vectors[test], labels[test], protocol
