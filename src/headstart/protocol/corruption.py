"""Label noise and long tails for the training side of an evaluation (the test set is never
touched), seeded so every head sees the same corruption:

- symmetric:p — a fraction p of the items (exactly round(p·n)) get a label drawn uniformly
  from the *other* classes;
- asymmetric:p — a fraction p of every class moves to the next class (k → k + 1 mod K), the
  class-dependent flips of the noisy-label literature;
- imbalance ρ — class k keeps round(n_max · ρ^(−k/(K−1))) items (an exponential profile from
  the largest class to one ρ times smaller), chosen at random within the class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headstart.exceptions import DataError


def parse_noise(spec: str) -> tuple[str, float]:
    """("symmetric" | "asymmetric", p) from "kind:p"."""
    kind, _, rate = spec.partition(":")
    try:
        p = float(rate)
    except ValueError:
        p = -1.0
    if kind not in ("symmetric", "asymmetric") or not 0 <= p < 1:
        raise DataError(f"label noise {spec!r}: expected symmetric:P or asymmetric:P, 0 ≤ P < 1")
    return kind, p


def corrupt_labels(y: np.ndarray, spec: str, seed: int) -> np.ndarray:
    """A noisy copy of integer labels `y` (classes 0..K−1)."""
    kind, p = parse_noise(spec)
    y = np.asarray(y)
    k = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    if kind == "symmetric":
        chosen = rng.choice(len(y), round(p * len(y)), replace=False)
        shift = rng.integers(1, k, len(chosen))  # 1..K−1: never the item's own class
        noisy[chosen] = (y[chosen] + shift) % k
        return noisy
    for c in range(k):
        rows = np.flatnonzero(y == c)
        chosen = rng.choice(rows, round(p * len(rows)), replace=False)
        noisy[chosen] = (c + 1) % k
    return noisy


def long_tail(y: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """Indices of the items kept under an exponential imbalance of `ratio` (sorted)."""
    if ratio < 1:
        raise DataError(f"imbalance ratio must be ≥ 1, got {ratio}")
    y = np.asarray(y)
    k = int(y.max()) + 1
    largest = int(np.bincount(y, minlength=k).max())
    rng = np.random.default_rng(seed)
    kept = []
    for c in range(k):
        rows = np.flatnonzero(y == c)
        share = ratio ** (-c / max(k - 1, 1))
        kept.append(rng.choice(rows, min(len(rows), max(1, round(largest * share))), replace=False))
    return np.sort(np.concatenate(kept))


@dataclass(frozen=True)
class Corruption:
    """What an evaluation does to its training side, per seed: keep a long tail of
    `imbalance` (if given), then corrupt the kept items' labels with `noise` (if given). The
    test set is never touched; every head sees the same corruption at a seed."""

    noise: str | None = None
    imbalance: float | None = None

    def __post_init__(self) -> None:
        if self.noise is not None:
            parse_noise(self.noise)
        if self.imbalance is not None and self.imbalance < 1:
            raise DataError(f"imbalance ratio must be ≥ 1, got {self.imbalance}")

    def label(self) -> str:
        """A suffix for the store label: rows under different corruptions never pair."""
        parts = [f"noise {self.noise}"] if self.noise else []
        if self.imbalance is not None:
            parts.append(f"imbalance {self.imbalance:g}")
        return " · ".join(parts)

    def apply(self, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the training items kept, their possibly corrupted labels)."""
        y = np.asarray(y)
        kept = long_tail(y, self.imbalance, seed) if self.imbalance else np.arange(len(y))
        labels = y[kept]
        if self.noise:
            labels = corrupt_labels(labels, self.noise, seed + 10_007)  # not the tail's stream
        return kept, labels
