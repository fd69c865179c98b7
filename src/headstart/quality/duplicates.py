"""Exact and near-duplicate groups among a store's vectors, and the groups that cross the
train/test split (a leak: the test set then scores items the head has seen).

Near duplicates: cosine similarity ≥ `threshold`, joined transitively into groups with a
union–find. The pairs come from an exact search block by block (never the full n × n matrix):
in full dimension ("exact"), or, above `LARGE` items by default, screened in the top 128
principal directions with a bound that cannot miss a pair and then checked in full
("projected": exact too, ~4× cheaper on 1280-d features). `index="ivf"` uses a FAISS
inverted-file range search instead (approximate; on tightly clustered features such as
Fashion-MNIST's its cells are unbalanced and it is slower than "projected": 54 s against
about 10 s for 70,000 Lite0 vectors). Exact
duplicates are identical vectors (the same bytes), found by hashing each row."""

from __future__ import annotations

import hashlib

import numpy as np

from headstart.vector_index import ivf_index, pairs_at_least, unit_rows

BLOCK = 2048
LARGE = 20_000
SCREEN_DIMS = 128
INDEX_CHOICES = ("auto", "exact", "projected", "ivf")


def exact_groups(X: np.ndarray) -> list[list[int]]:
    """Groups (of two or more rows) whose vectors are identical, bit for bit."""
    rows: dict[bytes, list[int]] = {}
    data = np.ascontiguousarray(X)
    for i in range(len(data)):
        rows.setdefault(hashlib.sha256(data[i].tobytes()).digest(), []).append(i)
    return sorted(g for g in rows.values() if len(g) > 1)


def near_groups(
    X: np.ndarray,
    threshold: float = 0.97,
    index: str = "auto",
    lists: int = 256,
    probes: int = 8,
) -> list[list[int]]:
    """Groups of rows linked by cosine similarity ≥ `threshold` (transitively)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if index not in INDEX_CHOICES:
        raise ValueError(f"index must be one of {INDEX_CHOICES}, got {index!r}")
    unit = unit_rows(np.asarray(X, dtype=np.float32)).astype(np.float32)
    if index == "auto":
        index = "projected" if len(unit) > LARGE else "exact"
    if index == "ivf":
        pairs = _ivf_pairs(unit, threshold - 1e-6, lists, probes)
    else:
        dims = SCREEN_DIMS if index == "projected" else None
        pairs = pairs_at_least(unit, threshold - 1e-6, dims)
    parent = np.arange(len(unit))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        if i != j:
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(unit)):
        groups.setdefault(root(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)


def _ivf_pairs(unit: np.ndarray, cut: float, lists: int, probes: int):
    found = ivf_index(unit, lists, probes, "near duplicates with index='ivf'")
    for start in range(0, len(unit), BLOCK):
        limits, _, neighbours = found.range_search(unit[start : start + BLOCK], float(cut))
        for offset in range(len(limits) - 1):
            i = start + offset
            for j in neighbours[limits[offset] : limits[offset + 1]].tolist():
                if float(unit[i] @ unit[j]) >= cut:  # confirm in full precision
                    yield i, j


def split_leaks(groups: list[list[int]], split: np.ndarray) -> list[list[int]]:
    """The groups with members in both the train and the test split."""
    split = np.asarray(split).astype(str)
    return [g for g in groups if {"train", "test"} <= set(split[g])]
