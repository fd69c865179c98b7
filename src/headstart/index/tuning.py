"""Recall@k against exact search, and the search depth that reaches a recall target: the
depth is doubled until held-in sample queries (store rows) find `target` of their true
neighbours — chosen on the store itself, reported in the index's JSON."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from headstart.index.kinds import set_depth

BLOCK = 1024
SIMILARITIES = 1 << 26  # query × item scores held at once
MAX_DEPTH = 4096


def exact_neighbours(unit: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(q, k) rows of `unit` with the largest inner product with each query, best first."""
    base = torch.as_tensor(np.asarray(unit, dtype=np.float32))
    step = max(1, min(BLOCK, SIMILARITIES // max(1, len(base))))  # ≤ 256 MB of scores
    found = []
    for start in range(0, len(queries), step):
        block = torch.as_tensor(np.asarray(queries[start : start + step], dtype=np.float32))
        found.append(torch.topk(block @ base.T, min(k, len(base)), dim=1).indices.numpy())
    return np.concatenate(found) if found else np.empty((0, k), np.int64)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true neighbours that `found` contains (recall@k)."""
    hits = [len(np.intersect1d(f[f >= 0], t)) / len(t) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def tune_depth(
    index: Any,
    unit: np.ndarray,
    plan: dict[str, Any],
    target: float = 0.95,
    k: int = 10,
    sample: int = 500,
) -> dict[str, Any]:
    """The smallest doubling of `plan["depth"]` whose recall@k on `sample` seeded store rows
    reaches `target` (or the largest tried); sets it on `index` and returns the plan with
    `depth` and `measured_recall`."""
    rows = np.sort(np.random.default_rng(0).permutation(len(unit))[:sample])
    queries = np.ascontiguousarray(unit[rows], dtype=np.float32)
    truth = exact_neighbours(unit, queries, k)
    if plan.get("depth") is None:  # exact
        return plan | {"measured_recall": 1.0, "recall_k": k}
    limit = index.nlist if plan["kind"] == "ivf" else MAX_DEPTH
    depth = plan["depth"]
    while True:
        set_depth(index, depth)
        recall = recall_at(index.search(queries, truth.shape[1])[1], truth)
        if recall >= target or depth >= limit:
            return plan | {"depth": int(depth), "measured_recall": recall, "recall_k": k}
        depth = min(2 * depth, limit)
