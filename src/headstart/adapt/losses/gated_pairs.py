"""Class-pair gated positives — SimLAP / Hydra (Wu et al., "Rethinking Positive Pairs in
Contrastive Learning", arXiv 2410.18200).

Any two items may be a positive pair, even of unrelated classes: a feature filter conditioned
on the pair's classes outputs a gate g(a, b) ∈ (0, 1)^d that keeps the dimensions in which the
two classes agree, and InfoNCE runs on the gated, re-normalised features,
    ℓ = −log e^{ŝ(x, p)/τ} / Σ_n e^{ŝ(x, n)/τ},   ŝ(u, v) = cos(g ⊙ u, g ⊙ v),
plus a gate penalty mean g(1 − g) that pushes gates towards 0 or 1. Each anchor trains twice:
with its same-class partner (gate g(a, a)) and with an in-batch item of another class (gate
g(a, b)). No code is published; ours are the filter (a class embedding per class, the pair's
summed embeddings through Linear–ReLU–Linear–sigmoid, symmetric in a and b, opening at ≈ 0.88),
the penalty weight, and leaving out of the denominator the other items of the pair's two
classes, which are not negatives of that pair.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair


def gated_nce(
    anchors: torch.Tensor,
    anchor_at: torch.Tensor,
    candidates: torch.Tensor,
    candidate_labels: torch.Tensor,
    positive_at: torch.Tensor,
    pair_labels: tuple[torch.Tensor, torch.Tensor],
    gate: torch.Tensor,
    tau: float,
) -> torch.Tensor:
    """InfoNCE per anchor in its gated subspace; the other items of its pair's classes and
    the anchor itself are left out of the denominator."""
    g2 = gate.pow(2)
    numerator = (g2 * anchors) @ candidates.T
    anchor_norm = (g2 * anchors.pow(2)).sum(1).sqrt()
    candidate_norm = (g2 @ candidates.pow(2).T).sqrt()
    cosine = numerator / (anchor_norm[:, None] * candidate_norm).clamp_min(1e-12)
    rows = torch.arange(len(anchors))
    first, second = pair_labels
    excluded = (candidate_labels[None] == first[:, None]) | (
        candidate_labels[None] == second[:, None]
    )
    excluded[rows, positive_at] = False
    excluded[rows, anchor_at] = True
    logits = (cosine / tau).masked_fill(excluded, float("-inf"))
    return nn.functional.cross_entropy(logits, positive_at)


def cross_class_partners(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each anchor a random other anchor of another class, and which anchors have one."""
    other = labels[:, None] != labels[None, :]
    key = torch.rand(other.shape).masked_fill(~other, -1.0)
    return key.argmax(1), other.any(1)


@LOSSES.register(
    "simlap",
    variant="no code published: the gate filter, the penalty weight and leaving the pair's "
    "classes out of the denominator are ours",
)
class GatedPairs(ContrastiveLoss):
    """InfoNCE in class-pair subspaces chosen by a learned gate; same- and cross-class pairs."""

    needs_labels = True
    positive_sources = ("labels",)

    def __init__(self, tau: float = 0.1, penalty: float = 0.01, hidden: int = 64) -> None:
        super().__init__(tau)
        self.penalty, self.hidden = penalty, hidden

    def prepare(self, X: np.ndarray, y: np.ndarray | None, train: np.ndarray) -> None:
        self.n_classes = int(np.max(y)) + 1

    def build(self, width: int) -> None:
        self.classes = nn.Embedding(self.n_classes, self.hidden)
        self.filter = nn.Sequential(
            nn.Linear(self.hidden, self.hidden), nn.ReLU(), nn.Linear(self.hidden, width)
        )
        nn.init.constant_(self.filter[2].bias, 2.0)  # gates start open, sigmoid(2) ≈ 0.88

    def gate(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """g(a, b) = g(b, a) for class indices a, b."""
        return torch.sigmoid(self.filter(self.classes(a) + self.classes(b)))

    def forward(self, batch: Pair) -> torch.Tensor:
        z, labels = batch.z, batch.labels
        b = len(z)
        candidates, candidate_labels = torch.cat([z, batch.z_pos]), torch.cat([labels, labels])
        rows = torch.arange(b)
        same_gate = self.gate(labels, labels)
        same = gated_nce(
            z, rows, candidates, candidate_labels, rows + b, (labels, labels), same_gate, self.tau
        )
        partner, has = cross_class_partners(labels)
        self.last_partners_ = partner
        gates = [same_gate]
        loss = same
        if has.any():
            a, p = rows[has], partner[has]
            cross_gate = self.gate(labels[a], labels[p])
            pair_labels = (labels[a], labels[p])
            cross = gated_nce(
                z[a], a, candidates, candidate_labels, p, pair_labels, cross_gate, self.tau
            )
            gates.append(cross_gate)
            loss = (same + cross) / 2
        gate = torch.cat(gates)
        return loss + self.penalty * (gate * (1 - gate)).mean()
