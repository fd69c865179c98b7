"""Regularizers that plug into attention-MIL training: `MILClassifier(regularizers=["aem"])`.

A regularizer sees the packed forward pass (attention, its logits, the bag segments) and
returns a term added to the cross-entropy. Names may carry a strength: "aem:0.05".
- `aem` (Zhang et al. 2024, Attention Entropy Maximization): λ·Σ_i a_i log a_i per bag,
  averaged over the bags of the step: minimising it maximises the attention entropy, so the
  model spreads attention instead of collapsing onto a few instances (λ = 0.1 by default).
"""

from __future__ import annotations

import torch

from headstart.mil.aggregators import segment_sum
from headstart.registry import Registry

REGULARIZERS: Registry = Registry("regularizer")


def negative_entropy(attention: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
    """Σ_i a_i log a_i of each bag (B,): 0 for one-hot attention, −log n_b for uniform."""
    terms = attention * torch.log(attention.clamp(min=1e-12))
    return segment_sum(terms, segments, n)


class AEM:
    """Attention-entropy maximisation: λ · mean over bags of Σ_i a_i log a_i."""

    needs_attention = True

    def __init__(self, strength: float = 0.1) -> None:
        self.strength = strength

    def __call__(self, attention: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
        return self.strength * negative_entropy(attention, segments, n).mean()


REGULARIZERS.register("aem", "attention entropy maximisation (λ, default 0.1)")(AEM)


def create_regularizer(spec: str) -> AEM:
    """ "name" or "name:strength" → a regularizer."""
    name, _, strength = spec.partition(":")
    return REGULARIZERS.create(name, **({"strength": float(strength)} if strength else {}))
