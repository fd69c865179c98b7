"""Transitive invariance (Wang, He & Gupta, ICCV 2017), on a store of augmented views.

A graph joins the store's items two ways: intra-instance edges (the views of one item — the
paper's patches of one tracked object) and inter-instance edges (each item's k nearest
neighbours in the frozen space — the paper's clusters of similar instances). Positives are
items joined through the graph: A with its own other view, A with a neighbour B, and by
transitivity A with another view B′ of that neighbour; the trainer's "transitive" positive
source draws them. The loss is the ranking loss of the authors' code (xiaolonw/
caffe-video_triplet, RankHardLoss): with D(u, v) = −u·v on unit vectors, every pair (a, p)
and each negative n chosen for it adds
    max(0, D(a,p) − D(a,n) + m) + max(0, D(a,p) − D(p,n) + m),
summed and divided by 2 · `negatives` · pairs. Candidates are the other pairs' items that
violate the margin for the anchor; with more than `negatives` of them, half the picks come at
random from the `negatives` hardest and half at random from the rest (hard/random 0.5/0.5).
The margin (1) and `negatives` (4) are the values of the authors' prototxt.
"""

from __future__ import annotations

import torch

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair


def choose_negatives(
    z: torch.Tensor, z_pos: torch.Tensor, margin: float, negatives: int
) -> torch.Tensor:
    """(B, 2B) mask of the negatives each pair trains against, over [anchors; positives]."""
    b = len(z)
    rows = torch.arange(b)
    with torch.no_grad():
        similarity = z @ torch.cat([z, z_pos]).T
        d_ap = -(z * z_pos).sum(1)
        violates = d_ap[:, None] + similarity + margin > 0  # D(a,p) − D(a,n) + m > 0
        violates[rows, rows] = violates[rows, rows + b] = False
        n_hard = negatives // 2
        hardest = similarity.masked_fill(~violates, -torch.inf).argsort(1, descending=True)
        among = torch.rand(b, negatives).argsort(1)[:, :n_hard]  # a random half of the hardest
        hard = hardest[:, :negatives].gather(1, among)
        rest = violates.clone()
        rest.scatter_(1, hard, False)
        keys = torch.rand(b, 2 * b).masked_fill(~rest, -1.0)
        drawn = keys.topk(negatives - n_hard, dim=1).indices  # random among the rest
        chosen = torch.zeros_like(violates)
        chosen.scatter_(1, hard, True)
        chosen.scatter_(1, drawn, True)
        few = violates.sum(1, keepdim=True) <= negatives  # then every violator
        return torch.where(few, violates, chosen)


def ranking_loss(
    z: torch.Tensor, z_pos: torch.Tensor, chosen: torch.Tensor, margin: float, negatives: int
) -> torch.Tensor:
    """Σ over chosen (pair, negative) of both hinge terms, / (2 · negatives · pairs)."""
    candidates = torch.cat([z, z_pos])
    d_ap = -(z * z_pos).sum(1, keepdim=True)
    hinge_anchor = torch.relu(d_ap + z @ candidates.T + margin)
    hinge_positive = torch.relu(d_ap + z_pos @ candidates.T + margin)
    total = ((hinge_anchor + hinge_positive) * chosen).sum()
    return total / (2 * negatives * len(z))


@LOSSES.register(
    "transitive",
    variant="edges from stored augmented views and a frozen-space neighbour graph, not tracked "
    "video patches and clustered context features",
)
class TransitiveInvariance(ContrastiveLoss):
    """Ranking loss on positives joined through the view + neighbour graph."""

    positive_sources = ("transitive",)

    def __init__(self, margin: float = 1.0, negatives: int = 4) -> None:
        super().__init__()
        if margin <= 0 or negatives < 1:
            raise ValueError(f"margin must be > 0 and negatives ≥ 1, got {margin}, {negatives}")
        self.margin, self.negatives = margin, negatives

    def forward(self, batch: Pair) -> torch.Tensor:
        chosen = choose_negatives(batch.z, batch.z_pos, self.margin, self.negatives)
        return ranking_loss(batch.z, batch.z_pos, chosen, self.margin, self.negatives)
