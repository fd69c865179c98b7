"""Exact and near-duplicate groups among a store's vectors, and the groups that cross the
train/test split (a leak: the test set then scores items the head has seen).

Near duplicates: cosine similarity ≥ `threshold`, found block by block (never the full n × n
matrix), joined transitively into groups with a union–find. Exact duplicates are identical
vectors (the same bytes), found by hashing each row."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

BLOCK = 2048


def exact_groups(X: np.ndarray) -> list[list[int]]:
    """Groups (of two or more rows) whose vectors are identical, bit for bit."""
    rows: dict[bytes, list[int]] = {}
    data = np.ascontiguousarray(X)
    for i in range(len(data)):
        rows.setdefault(hashlib.sha256(data[i].tobytes()).digest(), []).append(i)
    return sorted(g for g in rows.values() if len(g) > 1)


def near_groups(X: np.ndarray, threshold: float = 0.97) -> list[list[int]]:
    """Groups of rows linked by cosine similarity ≥ `threshold` (transitively)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    unit = torch.as_tensor(X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12))
    unit = unit.float()
    parent = np.arange(len(unit))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(unit), BLOCK):
        similarity = unit[start : start + BLOCK] @ unit.T
        rows, columns = torch.nonzero(similarity >= threshold - 1e-6, as_tuple=True)
        for i, j in zip((rows + start).tolist(), columns.tolist(), strict=True):
            if i < j:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(unit)):
        groups.setdefault(root(i), []).append(i)
    return sorted(g for g in groups.values() if len(g) > 1)


def split_leaks(groups: list[list[int]], split: np.ndarray) -> list[list[int]]:
    """The groups with members in both the train and the test split."""
    split = np.asarray(split).astype(str)
    return [g for g in groups if {"train", "test"} <= set(split[g])]
