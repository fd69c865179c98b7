"""`acmil` aggregator: attention-challenging MIL (Zhang et al., ECCV 2024) on packed bags.

M gated-attention branches (default 5) each pool the bag; during training each branch hides
⌊`top_k`·`mask_drop`⌋ (6) of its top-`top_k` (10) instances in every bag (STKIM), so
it must find evidence elsewhere. The bag embedding for the main classifier is pooled with the
mean of the branch attentions. `MILClassifier` adds the ACMIL terms when it sees
`branch_embeddings`: the cross-entropy of a classifier on every branch, and the mean pairwise
cosine similarity of the branch attentions within each bag (diversity). That loss equals the
official Step3_WSI_classification_ACMIL.py's, bag by bag (tests/test_mil_fidelity.py), except
with a single branch: there the official code drops the branch cross-entropy, while
`MILClassifier` keeps one classifier on the one branch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from headstart.mil.aggregators import AGGREGATORS, HIDDEN, segment_softmax, segment_sum


class ACMILPooling(nn.Module):
    """Multi-branch gated attention with stochastic top-k instance masking in training."""

    attention = True

    def __init__(
        self,
        dim: int,
        attention_dim: int = 128,
        branches: int = 5,
        top_k: int = 10,
        mask_drop: float = 0.6,
    ) -> None:
        if branches < 1 or top_k < 1:
            raise ValueError(f"ACMIL branches and top_k must be ≥ 1, got {branches}, {top_k}")
        if not 0.0 <= mask_drop <= 1.0:
            raise ValueError(f"ACMIL mask_drop must be in [0, 1], got {mask_drop}")
        super().__init__()
        self.V = nn.Linear(dim, attention_dim)
        self.U = nn.Linear(dim, attention_dim)
        self.w = nn.Linear(attention_dim, branches)
        self.branches, self.top_k, self.mask_drop = branches, top_k, mask_drop
        self.branch_embeddings: torch.Tensor | None = None  # (B, M, H) of the last forward
        self.branch_attention: torch.Tensor | None = None  # (N, M)

    def _challenge(self, logits: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
        """Hide ⌊k·mask_drop⌋ of each branch's top-k instances in every bag (k = min(top_k,
        bag size)), drawn uniformly without replacement: the official STKIM count."""
        hidden = torch.zeros_like(logits, dtype=torch.bool)
        for bag in range(n):
            rows = torch.nonzero(segments == bag).squeeze(1)
            k = min(self.top_k, len(rows))
            count = int(k * self.mask_drop)
            if count == 0:
                continue
            top = torch.topk(logits[rows], k, dim=0).indices  # (k, M)
            chosen = torch.rand(self.branches, k, device=logits.device).argsort(dim=1)[:, :count]
            for branch in range(self.branches):
                hidden[rows[top[chosen[branch], branch]], branch] = True
        return hidden

    def forward(self, h, segments, n, hidden=None):
        logits = self.w(torch.tanh(self.V(h)) * torch.sigmoid(self.U(h)))  # (N, M)
        visible = logits
        if self.training and self.mask_drop > 0:
            visible = visible.masked_fill(self._challenge(logits.detach(), segments, n), HIDDEN)
        if hidden is not None:
            visible = visible.masked_fill(hidden[:, None], HIDDEN)
        attention = torch.stack(
            [segment_softmax(visible[:, m], segments, n) for m in range(self.branches)], dim=1
        )
        self.branch_attention = attention
        self.branch_embeddings = torch.stack(
            [segment_sum(attention[:, m, None] * h, segments, n) for m in range(self.branches)],
            dim=1,
        )
        mean_attention = attention.mean(dim=1)
        pooled = segment_sum(mean_attention[:, None] * h, segments, n)
        return pooled, mean_attention, logits.mean(dim=1)


def branch_diversity(attention: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
    """Mean over bags of the mean pairwise cosine similarity of the M branch attentions; 0 for
    one branch (no pairs: the official loop adds nothing)."""
    branches = attention.shape[1]
    total = attention.new_zeros(())
    if branches < 2:
        return total
    for bag in range(n):
        vectors = F.normalize(attention[segments == bag].T, dim=1)  # (M, n_b)
        similarity = vectors @ vectors.T
        off_diagonal = similarity.sum() - similarity.diagonal().sum()
        total = total + off_diagonal / (branches * (branches - 1))
    return total / n


AGGREGATORS.register("acmil", "ACMIL: multi-branch attention with top-k masking (Zhang 2024)")(
    ACMILPooling
)
