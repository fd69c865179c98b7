"""Wang & Liu's hard contrastive loss (CVPR 2021): InfoNCE whose denominator keeps, for each
anchor, only its positive and the hardest negatives — the `hard_fraction` of the 2B − 2 with
the highest similarity. Being hardness-aware already, InfoNCE with a small τ concentrates on
hard negatives; cutting the easy ones lets a larger τ keep that focus while tolerating
semantically similar items (the uniformity–tolerance dilemma)."""

from __future__ import annotations

import math

import torch

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair, both_views


@LOSSES.register("hard-contrastive")
class HardContrastive(ContrastiveLoss):
    """InfoNCE over the hardest `hard_fraction` of negatives only, temperature `tau`."""

    def __init__(self, tau: float = 0.2, hard_fraction: float = 0.1) -> None:
        super().__init__(tau)
        if not 0 < hard_fraction <= 1:
            raise ValueError(f"hard_fraction must be in (0, 1], got {hard_fraction}")
        self.hard_fraction = hard_fraction

    def forward(self, batch: Pair) -> torch.Tensor:
        z, partner = both_views(batch)
        n = len(z)
        similarity = z @ z.T
        rows = torch.arange(n)
        negative = torch.ones(n, n, dtype=torch.bool)
        negative[rows, rows] = False
        negative[rows, partner] = False
        keep = max(1, math.ceil(self.hard_fraction * (n - 2)))
        masked = similarity.masked_fill(~negative, float("-inf"))
        hardest = masked.topk(keep, dim=1).indices
        allowed = torch.zeros(n, n, dtype=torch.bool)
        allowed[rows[:, None], hardest] = True
        allowed[rows, partner] = True
        logits = (similarity / self.tau).masked_fill(~allowed, float("-inf"))
        return torch.nn.functional.cross_entropy(logits, partner)
