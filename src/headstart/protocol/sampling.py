"""k-shot sampling: k training items per class, drawn with a seed, from the training split only."""

from __future__ import annotations

import numpy as np

from headstart.exceptions import DataError

ALL = "all"
# what a shot level does with classes that have fewer training items than it asks for
SHOTS_POLICIES = ("error", "up-to", "drop")


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


def short_classes(y: np.ndarray, shots: list[int | str]) -> dict[str, list[int]]:
    """For each shot level, the classes with fewer training items than it asks for."""
    counts = np.bincount(y) if len(y) else np.zeros(0, int)
    present = np.flatnonzero(counts)
    return {
        str(s): [int(c) for c in present if counts[c] < s]
        for s in shots
        if isinstance(s, int) and s > 0 and (counts[present] < s).any()
    }


def check_shots(
    y: np.ndarray, shots: list[int | str], policy: str, class_names: list[str]
) -> dict[str, list[str]]:
    """Every level's short classes, by name, checked before any work: an error naming them
    all (with their item counts) under the "error" policy; else returned for the provenance."""
    if policy not in SHOTS_POLICIES:
        raise DataError(f"shots policy must be one of {', '.join(SHOTS_POLICIES)}, got {policy!r}")
    counts = np.bincount(y) if len(y) else np.zeros(0, int)

    def name(c: int) -> str:
        return class_names[c] if c < len(class_names) else str(c)

    short = short_classes(y, shots)
    if short and policy == "error":
        listed = "; ".join(
            f"{level} shots: "
            + ", ".join(f"{name(c)!r} ({counts[c]})" for c in classes[:8])
            + (f" and {len(classes) - 8} more" if len(classes) > 8 else "")
            for level, classes in short.items()
        )
        raise DataError(
            f"classes with fewer training items than the shots asked for — {listed}; lower "
            "--shots, or use --shots-policy up-to (up to k items per class) or drop (leave "
            "those classes out of that level)"
        )
    present = np.flatnonzero(counts)
    if policy == "drop":  # a level needs two classes left to train and score a classifier
        for level, classes in short.items():
            if len(present) - len(classes) < 2:
                raise DataError(
                    f"--shots-policy drop leaves {len(present) - len(classes)} class(es) at "
                    f"{level} shots ({len(classes)} of {len(present)} have fewer items); lower "
                    "that level or use --shots-policy up-to"
                )
    return {level: [name(c) for c in classes] for level, classes in short.items()}


def k_shot_indices(y: np.ndarray, shots: int | str, seed: int, policy: str = "error") -> np.ndarray:
    """Indices of `shots` random items of every class (all items for "all"), sorted.

    A class with fewer items than `shots` is an error that names it under the "error"
    policy (silently using fewer would mislabel the result's shot count); "up-to" takes all
    of its items, "drop" leaves the class out.
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
            if policy == "drop":
                continue
            if policy != "up-to":
                raise DataError(
                    f"class {label.item()!r} has {len(pool)} training items, fewer than the "
                    f"{shots} shots asked for; lower --shots or add data"
                )
        chosen.append(rng.choice(pool, size=min(int(shots), len(pool)), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)
