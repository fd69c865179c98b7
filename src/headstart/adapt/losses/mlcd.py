"""MLCD — multi-label cluster discrimination (An et al., ECCV 2024), on a store.

`prepare` clusters the training features with k-means into `clusters` centres; each item's
`positives` nearest centres (the paper's l; 8 was best there) are its positive labels, all
other centres negative. A learnable prototype per centre (initialised at the centre) scores
s = `scale` · cos(z, w), and the loss keeps positive and negative terms apart:
    L = log(1 + Σ_{j∈neg} e^{s_j}) + log(1 + Σ_{i∈pos} e^{−s_i}).
The official training code is not released (unicom holds the model only); the scale (32) and
the absence of a margin and of negative subsampling (PartialFC, needed at 1M centres) are ours.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair
from headstart.vector_index import unit_rows


def mlcd_loss(scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Mean over rows of log(1 + Σ_neg e^{s}) + log(1 + Σ_pos e^{−s})."""
    zero = torch.zeros(len(scores), 1, dtype=scores.dtype)
    negative_part = torch.logsumexp(
        torch.cat([zero, scores.masked_fill(positive, float("-inf"))], dim=1), dim=1
    )
    positive_part = torch.logsumexp(
        torch.cat([zero, (-scores).masked_fill(~positive, float("-inf"))], dim=1), dim=1
    )
    return (negative_part + positive_part).mean()


@LOSSES.register("mlcd")
class MLCD(ContrastiveLoss):
    """k-means pseudo-classes, each item's `positives` nearest centres as its labels."""

    def __init__(self, clusters: int = 256, positives: int = 8, scale: float = 32.0, seed: int = 0):
        super().__init__()
        if not 1 <= positives < clusters:
            raise ValueError(f"positives must be in [1, clusters), got {positives}, {clusters}")
        self.clusters, self.positives, self.scale, self.seed = clusters, positives, scale, seed

    def prepare(self, X: np.ndarray, y: np.ndarray | None, train: np.ndarray) -> None:
        if len(train) < self.clusters:
            raise ValueError(f"{len(train)} training rows cannot make {self.clusters} clusters")
        unit = unit_rows(np.asarray(X, dtype=np.float64))
        kmeans = KMeans(self.clusters, n_init=1, random_state=self.seed).fit(unit[train])
        centres = unit_rows(kmeans.cluster_centers_)
        nearest = np.argsort(-(unit @ centres.T), axis=1)[:, : self.positives]
        self.labels_ = torch.zeros(len(X), self.clusters, dtype=torch.bool)
        self.labels_[torch.arange(len(X))[:, None], torch.as_tensor(nearest)] = True
        self.nearest_ = nearest
        self.prototypes = nn.Parameter(torch.as_tensor(centres, dtype=torch.float32))

    def forward(self, batch: Pair) -> torch.Tensor:
        prototypes = nn.functional.normalize(self.prototypes, dim=1).to(batch.z.dtype)
        scores = self.scale * batch.z @ prototypes.T
        return mlcd_loss(scores, self.labels_[batch.index])
