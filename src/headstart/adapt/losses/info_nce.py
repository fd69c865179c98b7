"""InfoNCE / NT-Xent (Oord et al. 2018; Chen et al. 2020): each of the 2B embeddings has its
partner view as the positive and the other 2B − 2 as negatives,
    ℓ_i = −log exp(s_{i,p(i)}/τ) / Σ_{k≠i} exp(s_{ik}/τ),
averaged over all 2B anchors."""

from __future__ import annotations

import torch

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair, both_views


def nt_xent(z: torch.Tensor, partner: torch.Tensor, tau: float) -> torch.Tensor:
    """The NT-Xent loss of unit rows `z` whose positives are `partner`."""
    logits = z @ z.T / tau
    logits = logits.masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    return torch.nn.functional.cross_entropy(logits, partner)


@LOSSES.register("info-nce")
class InfoNCE(ContrastiveLoss):
    """InfoNCE with temperature `tau` (0.1): partner views positive, all else negative."""

    def forward(self, batch: Pair) -> torch.Tensor:
        z, partner = both_views(batch)
        return nt_xent(z, partner, self.tau)
