"""The steps of INS (`headstart.mil.ins`) as functions of tensors, each testable on its own:
the pseudo-label momentum schedule, the prototype update and prototype pseudo-labels, the
confidence update, the PiCO-style SupCon and MoCo losses, and the key queue.
Nothing here holds a model."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def confidence_momentum(epoch: int, epochs: int, schedule: tuple[float, float]) -> float:
    """φ of the pseudo-label update in `epoch`. The official loss sets φ = start + (end −
    start)·e/epochs after epoch e, so epoch e ≥ 1 trains with e − 1's value; epoch 0 uses
    the loss object's initial value, 0.8 (the default end)."""
    start, end = schedule
    return end if epoch == 0 else start + (end - start) * (epoch - 1) / epochs


def update_prototypes(
    prototypes: torch.Tensor, embeddings: torch.Tensor, labels: torch.Tensor, momentum: float
) -> torch.Tensor:
    """The official row-by-row μ_y ← m·μ_y + (1 − m)·q_i, then L2-normalise each prototype.
    In closed form a row with r later rows of its class adds (1 − m)·m^r·q_i, and a class
    with n rows keeps m^n of its old prototype."""
    onehot = F.one_hot(labels, len(prototypes)).to(embeddings.dtype)  # (B, C)
    later = (onehot.flip(0).cumsum(0).flip(0) - onehot) * onehot  # same-class rows after i
    weights = (1 - momentum) * momentum ** later.sum(1)  # (B,)
    kept = momentum ** onehot.sum(0)  # (C,)
    moved = kept[:, None] * prototypes + onehot.T @ (weights[:, None] * embeddings)
    return F.normalize(moved, dim=1)


def prototype_labels(
    embeddings: torch.Tensor, prototypes: torch.Tensor, candidates: torch.Tensor
) -> torch.Tensor:
    """INS's pseudo-label: the candidate class with the highest softmax(q·μᵀ)."""
    return (torch.softmax(embeddings @ prototypes.T, dim=1) * candidates).argmax(1)


def update_confidence(
    confidence: torch.Tensor, choice: torch.Tensor, momentum: float, negative: torch.Tensor
) -> torch.Tensor:
    """c ← φ·c + (1 − φ)·onehot(choice); rows of negative bags are reset to [1, 0]."""
    target = F.one_hot(choice, confidence.shape[1]).to(confidence.dtype)
    moved = momentum * confidence + (1 - momentum) * target
    moved[negative] = torch.tensor([1.0, 0.0], dtype=confidence.dtype)
    return moved


def supcon_loss(
    contrast: torch.Tensor, labels: torch.Tensor, n_anchors: int, temperature: float
) -> torch.Tensor:
    """PiCO/INS SupCon: anchors are the first `n_anchors` rows of `contrast` (the queries);
    each anchor's positives are the other rows with its label, its own row is left out."""
    anchors = contrast[:n_anchors]
    logits = anchors @ contrast.T / temperature  # (B, M)
    itself = torch.zeros_like(logits, dtype=torch.bool)
    itself[torch.arange(n_anchors), torch.arange(n_anchors)] = True
    logits = logits.masked_fill(itself, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (labels[:n_anchors, None] == labels[None, :]) & ~itself
    per_anchor = log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1)
    return -per_anchor.mean()


def moco_loss(
    queries: torch.Tensor, keys: torch.Tensor, queue: torch.Tensor, temperature: float
) -> torch.Tensor:
    """MoCo's InfoNCE: each query's own key is the positive, the queue's keys the negatives."""
    positive = (queries * keys).sum(1, keepdim=True)
    logits = torch.cat([positive, queries @ queue.T], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(queries), dtype=torch.long))


class KeyQueue:
    """A ring buffer of past keys and their pseudo-labels; only pushed keys are returned."""

    def __init__(self, size: int, dim: int) -> None:
        self.keys, self.labels = torch.zeros(size, dim), torch.zeros(size, dtype=torch.long)
        self.start, self.filled = 0, 0

    def contents(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keys[: self.filled], self.labels[: self.filled]

    def push(self, keys: torch.Tensor, labels: torch.Tensor) -> None:
        size = len(self.keys)
        keys, labels = keys[-size:], labels[-size:]
        rows = (self.start + torch.arange(len(keys))) % size
        self.keys[rows], self.labels[rows] = keys, labels
        self.start = (self.start + len(keys)) % size
        self.filled = min(size, self.filled + len(keys))
