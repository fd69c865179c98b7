"""kNN label disagreement: an item whose nearest neighbours (cosine, itself excluded) mostly
carry another label. The score is the share of the k neighbours that disagree with the
given label; an item is flagged when the neighbours' majority label is another one and more
than half of them disagree."""

from __future__ import annotations

import numpy as np
import torch

BATCH = 2048


def knn_disagreement(
    X: np.ndarray, labels: np.ndarray, k: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, flag, the neighbours' majority label) per item."""
    labels = np.asarray(labels)
    if not 1 <= k < len(labels):
        raise ValueError(f"k must be between 1 and {len(labels) - 1}, got {k}")
    unit = torch.as_tensor(X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12))
    unit = unit.float()
    neighbours = np.empty((len(labels), k), dtype=np.int64)
    for start in range(0, len(labels), BATCH):
        similarity = unit[start : start + BATCH] @ unit.T
        rows = torch.arange(start, min(start + BATCH, len(labels)))
        similarity[rows - start, rows] = -np.inf  # never one's own neighbour
        neighbours[start : start + BATCH] = torch.topk(similarity, k, dim=1).indices.numpy()
    votes = labels[neighbours]
    score = (votes != labels[:, None]).mean(axis=1)
    counts = np.stack([(votes == c).sum(axis=1) for c in range(int(labels.max()) + 1)], axis=1)
    majority = counts.argmax(axis=1)
    return score, (majority != labels) & (score > 0.5), majority
