"""Proto-Triplet and ICNN losses ("SuSana Distancia is all you need", Mendez-Ruiz et al. 2023),
as the official code computes them (maumruiz/FSL-Loss, `algorithms/icnn_loss.py`), on a batch
of anchors (queries) and their same-label positives (the support):

- Proto-Triplet: prototypes are the support's class means; with Euclidean distances
  d = √(‖·‖² + 1e-6), L = mean_q max(0, d(q, c_{y_q}) − min_{c≠y_q} d(q, c) + m), m = 0.5.
- ICNN, on the whole batch (the code's "full episode", `fullicnn`): each item looks at its
  `ipc` nearest neighbours — in the full episode as many as a class has items (the code passes
  shot + query); we pass the batch's mean class size, since our batches are not balanced
  episodes — and its nearest other-class distance among them; its first `k` distances are
  divided by that distance, then by max(1, the largest of them); λ_same = 1 − mean normalised
  same-class distance, λ_diff = mean of the other-class distances divided by their batch
  maximum; γ = share of same-class neighbours among the first `k` (1 when the batch is too
  small for k: k + 2 ≥ n, where k shrinks to n − 2, as the code does);
  score = ((λ_same + λ_diff)/2 + γ)/2 and the loss is −log(score). With the code's default
  ipc = k + 1 a batch whose neighbourhoods are pure has score 1 exactly (loss and gradient 0),
  which is why the full episode looks further.
"""

from __future__ import annotations

import torch

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair

EPS = 1e-6


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sqrt(‖a − b‖² + ε) from the Gram matrix (no (n, m, d) difference tensor)."""
    squared = a.pow(2).sum(1)[:, None] + b.pow(2).sum(1)[None, :] - 2 * a @ b.T
    return (squared.clamp_min(0) + EPS) ** 0.5


def proto_triplet(queries, y_queries, support, y_support, margin: float = 0.5) -> torch.Tensor:
    """Hinge between the distance to the own prototype and to the nearest other one."""
    classes = torch.unique(y_support)
    prototypes = torch.stack([support[y_support == c].mean(0) for c in classes])
    d = _distances(queries, prototypes)
    own = y_queries[:, None] == classes[None, :]
    to_own = d.masked_fill(~own, float("-inf")).max(1).values
    to_other = d.masked_fill(own, float("inf")).min(1).values
    return torch.clamp(to_own - to_other + margin, min=0).mean()


def icnn_score(
    features: torch.Tensor, labels: torch.Tensor, k: int = 4, ipc: int | None = None
) -> torch.Tensor:
    """The ICNN score in (0, 1] of a labelled batch (higher: tighter, purer neighbourhoods);
    `ipc` neighbours are looked at for the nearest other class (the code's default k + 1)."""
    n = len(features)
    tiny = k + 2 >= n
    k = n - 2 if tiny else k
    look = min(n - 1, k + 1 if ipc is None else max(ipc, k))
    d = _distances(features, features)
    distances, index = d.topk(look + 1, largest=False)
    distances, index = distances[:, 1:], index[:, 1:]  # drop the item itself
    same = labels[index] == labels[:, None]
    other = distances.masked_fill(same, float("inf")).min(1).values  # nearest other class
    normalised = (distances / (other[:, None] + 1e-7))[:, :k]
    normalised = normalised / torch.clamp(normalised.max(1, keepdim=True).values, min=1.0)
    same, raw = same[:, :k], distances[:, :k]
    counts = same.sum(1)
    same_mean = (normalised * same).sum(1) / (counts + 1e-7)
    lambda_same = 1 - same_mean.sum() / (torch.count_nonzero(counts) + 1e-7)
    different = raw * ~same
    different = different / (different.max() + 1e-7)
    other_counts = (~same).sum(1)
    other_mean = different.sum(1) / (other_counts + 1e-7)
    lambda_diff = other_mean.sum() / (torch.count_nonzero(other_counts) + 1e-7)
    lambda_diff = torch.abs(lambda_diff - (1.0 if bool((~same).sum() == 0) else 0.0))
    gamma = 1.0 if tiny else counts.sum() / k / n
    return ((lambda_same + lambda_diff) / 2 + gamma) / 2


@LOSSES.register("proto-triplet")
class ProtoTriplet(ContrastiveLoss):
    """Anchors against the class means of the positives, margin `margin` (0.5)."""

    needs_labels = True

    def __init__(self, margin: float = 0.5) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, batch: Pair) -> torch.Tensor:
        return proto_triplet(batch.z, batch.labels, batch.z_pos, batch.labels, self.margin)


@LOSSES.register(
    "icnn",
    variant="full episode on unbalanced batches: neighbourhoods reach the batch's mean class "
    "size (the official code passes shot + query of a balanced episode)",
)
class ICNN(ContrastiveLoss):
    """−log of the ICNN score of anchors and positives together, `k` = 4, looking as far as
    the batch's mean class size (the full episode)."""

    needs_labels = True

    def __init__(self, k: int = 4) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k

    def forward(self, batch: Pair) -> torch.Tensor:
        features = torch.cat([batch.z, batch.z_pos])
        labels = torch.cat([batch.labels, batch.labels])
        class_size = round(len(labels) / len(torch.unique(labels)))  # shot + query in an episode
        return -torch.log(icnn_score(features, labels, self.k, ipc=class_size))
