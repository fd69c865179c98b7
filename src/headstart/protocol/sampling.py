"""k-shot sampling: k training items per class, drawn with a seed, from the training split only."""

from __future__ import annotations

import numpy as np

from headstart.exceptions import DataError

ALL = "all"


def parse_shots(text: str) -> list[int | str]:
    """`"1,2,4,all"` → [1, 2, 4, "all"]."""
    shots: list[int | str] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == ALL:
            shots.append(ALL)
        elif part.isdigit():
            shots.append(int(part))
        else:
            raise DataError(f"shot counts are integers ≥ 0 or 'all'; got {part!r}")
    return shots


def k_shot_indices(y: np.ndarray, shots: int | str, seed: int) -> np.ndarray:
    """Indices of `shots` random items of every class (all items for "all"), sorted.

    A class with fewer items than `shots` is an error that names it: silently using fewer
    would mislabel the result's shot count.
    """
    if shots == ALL:
        return np.arange(len(y))
    if shots == 0:  # zero-shot: no labelled items
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        pool = np.flatnonzero(y == label)
        if len(pool) < shots:
            raise DataError(
                f"class {label.item()!r} has {len(pool)} training items, fewer than the "
                f"{shots} shots asked for; lower --shots or add data"
            )
        chosen.append(rng.choice(pool, size=int(shots), replace=False))
    return np.sort(np.concatenate(chosen))
