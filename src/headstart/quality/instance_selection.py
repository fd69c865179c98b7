"""Instance selection: keep a small share of the training items that trains nearly as well.

Methods, by registry name (`select_instances(X, y, method, keep)`):
- "gais-batch", "gais-lsh": graph-attention importance (quality/gais.py), top `keep` per class;
- "random": a class-stratified random `keep` share — the baseline every method must beat;
- "kcenter": greedy k-center within each class (farthest-first in cosine distance, starting
  from the item nearest the class mean): coverage of each class's spread;
- "cnn": Hart's condensed nearest neighbour — start from one item per class, sweep the rest
  in random order adding every item the current set's 1-NN misclassifies, until a sweep adds
  none. Its size is the data's, not `keep`'s: it keeps what the boundary needs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from headstart.quality.gais import gais_importance, select_top
from headstart.registry import Registry
from headstart.vector_index import unit_rows


def random_selection(X: np.ndarray, y: np.ndarray, keep: float, seed: int = 0) -> np.ndarray:
    """A class-stratified random share."""
    rng = np.random.default_rng(seed)
    return select_top(rng.random(len(y)), y, keep)


def kcenter_selection(X: np.ndarray, y: np.ndarray, keep: float, seed: int = 0) -> np.ndarray:
    """Greedy farthest-first centres within each class."""
    unit = unit_rows(X).astype(np.float32)
    chosen = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        count = max(1, round(keep * len(rows)))
        members = unit[rows]
        centre = members.mean(0)
        picked = [int(np.argmax(members @ centre))]
        nearest = 1.0 - members @ members[picked[0]]
        while len(picked) < count:
            far = int(np.argmax(nearest))
            picked.append(far)
            nearest = np.minimum(nearest, 1.0 - members @ members[far])
        chosen.append(rows[picked])
    return np.sort(np.concatenate(chosen))


def cnn_selection(X: np.ndarray, y: np.ndarray, keep: float = 1.0, seed: int = 0) -> np.ndarray:
    """Hart's condensed nearest neighbour (cosine 1-NN); `keep` is not used."""
    rng = np.random.default_rng(seed)
    unit = unit_rows(X).astype(np.float32)
    store = [int(rng.choice(np.flatnonzero(y == c))) for c in np.unique(y)]
    changed = True
    while changed:
        changed = False
        for i in rng.permutation(len(y)):
            if i in store:
                continue
            nearest = store[int(np.argmax(unit[store] @ unit[i]))]
            if y[nearest] != y[i]:
                store.append(int(i))
                changed = True
    return np.sort(np.array(store))


def _gais(graph: str) -> Callable[..., np.ndarray]:
    def select(X: np.ndarray, y: np.ndarray, keep: float, seed: int = 0) -> np.ndarray:
        return select_top(gais_importance(X, y, graph, seed=seed), y, keep)

    select.__doc__ = f"GAIS with the {graph} graph."
    return select


SELECTORS: Registry[Callable[..., np.ndarray]] = Registry("instance selection")
for _name, _selector in {
    "gais-batch": _gais("batch"),
    "gais-lsh": _gais("lsh"),
    "random": random_selection,
    "kcenter": kcenter_selection,
    "cnn": cnn_selection,
}.items():
    SELECTORS.register(_name)(_selector)


def select_instances(
    X: np.ndarray, y: np.ndarray, method: str = "gais-batch", keep: float = 0.1, seed: int = 0
) -> np.ndarray:
    """Sorted indices of the items kept by `method`."""
    select = SELECTORS.entry(method)[0].factory  # an unknown name: an error with suggestions
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    return select(np.asarray(X), np.asarray(y), keep, seed)
