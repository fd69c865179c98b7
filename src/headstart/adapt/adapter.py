"""Adapters: small torch modules trained on top of frozen embeddings.

- "linear": z = W x (d_in → d_out), initialised as the identity when the widths agree, so an
  untrained adapter returns the frozen features (up to normalisation);
- "residual": z = x + W₂ · GELU(W₁ · LayerNorm(x)), the residual path initialised to zero —
  again the identity at step 0, so training can only move away from the frozen features as
  far as the loss asks.
Outputs are L2-normalised: every loss here works on the unit sphere.
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.registry import Registry

ADAPTERS: Registry[nn.Module] = Registry("adapter")


@ADAPTERS.register("linear")
class LinearAdapter(nn.Module):
    """A linear map, the identity at initialisation when `d_out` equals `d_in`."""

    def __init__(self, d_in: int, d_out: int | None = None) -> None:
        super().__init__()
        d_out = d_out or d_in
        self.linear = nn.Linear(d_in, d_out, bias=False)
        if d_out == d_in:
            nn.init.eye_(self.linear.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.linear(x), dim=-1)


@ADAPTERS.register("residual")
class ResidualAdapter(nn.Module):
    """x + MLP(LayerNorm(x)) with a zero-initialised output layer (the identity at step 0)."""

    def __init__(self, d_in: int, hidden: int = 512) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_in)
        self.up = nn.Linear(d_in, hidden)
        self.down = nn.Linear(hidden, d_in)
        nn.init.zeros_(self.down.weight)
        nn.init.zeros_(self.down.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.down(nn.functional.gelu(self.up(self.norm(x))))
        return nn.functional.normalize(x + residual, dim=-1)


def create_adapter(name: str, d_in: int, **options) -> nn.Module:
    """An untrained adapter by registered name for inputs of width `d_in`."""
    return ADAPTERS.create(name, d_in=d_in, **options)
