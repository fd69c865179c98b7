"""Supervised contrastive loss (Khosla et al., NeurIPS 2020, L_out): over the 2B embeddings,
every other embedding with the anchor's label is a positive,
    ℓ_i = −1/|P(i)| Σ_{p∈P(i)} log exp(s_ip/τ) / Σ_{a≠i} exp(s_ia/τ),
averaged over anchors that have a positive (the partner view always is one)."""

from __future__ import annotations

import torch

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair, both_views


@LOSSES.register("supcon")
class SupCon(ContrastiveLoss):
    """SupCon with temperature `tau` (0.1): same-label items and the partner view positive."""

    needs_labels = True

    def forward(self, batch: Pair) -> torch.Tensor:
        z, partner = both_views(batch)
        labels = torch.cat([batch.labels, batch.labels])
        n = len(z)
        self_mask = torch.eye(n, dtype=torch.bool)
        logits = (z @ z.T / self.tau).masked_fill(self_mask, float("-inf"))
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        positive = (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0)
        positive[torch.arange(n), partner] = True
        positive &= ~self_mask
        per_anchor = -(log_prob.masked_fill(~positive, 0.0)).sum(1) / positive.sum(1)
        return per_anchor.mean()
