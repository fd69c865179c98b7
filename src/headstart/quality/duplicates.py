"""Exact and near-duplicate groups among a store's vectors, and the groups that cross the
train/test split (a leak: the test set then scores items the head has seen).

Near duplicates: cosine similarity ≥ `threshold`, joined transitively into groups with a
union–find. The pairs come from an exact search block by block (never the full n × n matrix),
or, for stores above `IVF_ABOVE` items when FAISS is installed, from an inverted-file index's
range search (`index="ivf"`: each item searched in the `probes` cells nearest it, so a pair
split across far cells can be missed; every pair it reports is checked exactly). Exact
duplicates are identical vectors (the same bytes), found by hashing each row."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from headstart.vector_index import has_faiss, ivf_index, unit_rows

BLOCK = 2048
IVF_ABOVE = 20_000
INDEX_CHOICES = ("auto", "exact", "ivf")


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
        index = "ivf" if len(unit) > IVF_ABOVE and has_faiss() else "exact"
    pairs = _ivf_pairs if index == "ivf" else _exact_pairs
    parent = np.arange(len(unit))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs(unit, threshold - 1e-6, lists, probes):
        if i != j:
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(unit)):
        groups.setdefault(root(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)


def _exact_pairs(unit: np.ndarray, cut: float, lists: int, probes: int):
    tensor = torch.as_tensor(unit)
    for start in range(0, len(unit), BLOCK):
        similarity = tensor[start : start + BLOCK] @ tensor.T
        rows, columns = torch.nonzero(similarity >= cut, as_tuple=True)
        yield from zip((rows + start).tolist(), columns.tolist(), strict=True)


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
