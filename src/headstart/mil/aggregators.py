"""Bag aggregators on packed bags: instance embeddings h (N, H) of several bags stacked, and
`segments` (N,) naming each instance's bag 0..B−1 → bag embeddings (B, H).

Packing (instead of padding to the largest bag) wastes no compute on bags of very different
sizes. Every aggregator is invariant to the order of instances within a bag, and a bag's
output does not depend on the other bags packed with it.
- `mean`, `max`: fixed pooling;
- `attention` (ABMIL, Ilse et al. 2018): a = softmax_i(wᵀ tanh(V h_i)) within each bag,
  z = Σ_i a_i h_i;
- `gated`: a = softmax_i(wᵀ (tanh(V h_i) ⊙ sigmoid(U h_i))).
Attention aggregators also return their attention and its logits; `hidden` (N,) bool removes
instances from the softmax (the masking of ACMIL and MHIM).
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.registry import Registry

AGGREGATORS: Registry = Registry("aggregator")
HIDDEN = -1e9  # logit of a hidden instance: zero weight after the softmax


def segment_sum(values: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
    """Per-segment sums of the rows of `values`."""
    out = torch.zeros((n, *values.shape[1:]), dtype=values.dtype, device=values.device)
    return out.index_add_(0, segments, values)


def segment_softmax(logits: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
    """Softmax of `logits` (N,) within each segment."""
    top = torch.full((n,), float("-inf"), dtype=logits.dtype, device=logits.device)
    top = top.scatter_reduce(0, segments, logits, reduce="amax", include_self=True)
    weights = torch.exp(logits - top[segments])
    return weights / segment_sum(weights, segments, n)[segments]


class MeanPooling(nn.Module):
    """Mean of each bag's instances."""

    attention = False

    def __init__(self, dim: int, **_: object) -> None:
        super().__init__()

    def forward(self, h, segments, n, hidden=None):
        counts = segment_sum(torch.ones_like(h[:, :1]), segments, n)
        return segment_sum(h, segments, n) / counts, None, None


class MaxPooling(nn.Module):
    """Feature-wise maximum over each bag's instances."""

    attention = False

    def __init__(self, dim: int, **_: object) -> None:
        super().__init__()

    def forward(self, h, segments, n, hidden=None):
        out = torch.full((n, h.shape[1]), float("-inf"), dtype=h.dtype, device=h.device)
        index = segments[:, None].expand_as(h)
        return out.scatter_reduce(0, index, h, reduce="amax", include_self=True), None, None


class AttentionPooling(nn.Module):
    """ABMIL attention pooling, optionally gated."""

    attention = True

    def __init__(self, dim: int, attention_dim: int = 128, gated: bool = False) -> None:
        super().__init__()
        self.V = nn.Linear(dim, attention_dim)
        self.U = nn.Linear(dim, attention_dim) if gated else None
        self.w = nn.Linear(attention_dim, 1)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.V(h))
        if self.U is not None:
            hidden = hidden * torch.sigmoid(self.U(h))
        return self.w(hidden).squeeze(-1)  # (N,)

    def forward(self, h, segments, n, hidden=None):
        logits = self.logits(h)
        visible = logits if hidden is None else logits.masked_fill(hidden, HIDDEN)
        attention = segment_softmax(visible, segments, n)
        return segment_sum(attention[:, None] * h, segments, n), attention, logits


class DeepSetPooling(nn.Module):
    """DeepSets (Zaheer et al. 2017), the set model FACILE trains on set-level labels:
    ρ(mean_i φ(x_i)) with φ the instance embedding and ρ a two-layer MLP."""

    attention = False

    def __init__(self, dim: int, **_: object) -> None:
        super().__init__()
        self.rho = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, h, segments, n, hidden=None):
        counts = segment_sum(torch.ones_like(h[:, :1]), segments, n)
        return self.rho(segment_sum(h, segments, n) / counts), None, None


def _gated(dim: int, attention_dim: int = 128) -> AttentionPooling:
    return AttentionPooling(dim, attention_dim, gated=True)


AGGREGATORS.register("mean", "mean pooling")(MeanPooling)
AGGREGATORS.register("max", "max pooling")(MaxPooling)
AGGREGATORS.register("attention", "ABMIL attention pooling (Ilse et al. 2018)")(AttentionPooling)
AGGREGATORS.register("gated", "gated attention pooling (Ilse et al. 2018)")(_gated)
AGGREGATORS.register("deepset", "DeepSets set model (FACILE's set-level stage)")(DeepSetPooling)
