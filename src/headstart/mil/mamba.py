"""`mamba` aggregator: MambaMIL (Yang, Wang, Chen; MICCAI 2024) on packed bags, CPU-ready.

Two residual pre-LayerNorm SR-Mamba layers run over each bag's instance sequence, then
LayerNorm and ABMIL attention pooling. An SR-Mamba layer is a Mamba block (input projection
to x and gate z, causal depthwise convolution, selective scan, SiLU gate, output projection)
whose scan runs twice with shared weights: on the sequence, and on its strided reordering
"(k w) → (w k)" with w = R (the bag zero-padded to a multiple of R); both outputs are put back
in sequence order and summed. The scan is `selective_scan` (plain torch). Unlike pooling,
this aggregator depends on instance order (that is the point of a sequence model); each bag is
still computed independently of the others packed with it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from headstart.mil.aggregators import AGGREGATORS, AttentionPooling
from headstart.mil.selective_scan import selective_scan


class MambaBlock(nn.Module):
    """One Mamba mixer (d_state N, d_conv, expand) applied to several sequence orders."""

    def __init__(self, dim: int, d_state: int = 16, d_conv: int = 4, expand: int = 2) -> None:
        super().__init__()
        inner = expand * dim
        self.rank = math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(inner, self.rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.rank, inner)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1).float()).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, dim)
        self.d_state = d_state

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, inner) right-padded sequences → scanned (B, L, inner); causal, so padding
        after a bag's end never reaches its instances."""
        length = x.shape[1]
        x = F.silu(self.conv(x.transpose(1, 2))[..., :length].transpose(1, 2))
        dt, B, C = self.x_proj(x).split([self.rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        return selective_scan(x, delta, -torch.exp(self.A_log), B, C, self.D)

    def forward(self, h: torch.Tensor, orders: list[tuple[torch.Tensor, torch.Tensor]]):
        """h (N, dim) packed; each order is (gather (B, L) indices into h or −1, scatter back)."""
        x, z = self.in_proj(h).chunk(2, dim=-1)
        total = torch.zeros_like(x)
        padded_x = torch.cat([x, x.new_zeros(1, x.shape[1])])  # row N: zeros for padding
        for gather, real in orders:
            sequences = padded_x[gather]  # (B, L, inner)
            scanned = self.mix(sequences)
            total = total.index_add(0, gather[real], scanned[real])
        return self.out_proj(total * F.silu(z))


def bag_orders(segments: torch.Tensor, n: int, stride: int) -> list[tuple[torch.Tensor, ...]]:
    """Gather indices (B, L) for the sequence order and the strided reordering of every bag
    (−1 → the zero row), and the mask of real positions."""
    seg = segments.cpu().numpy()
    starts = np.searchsorted(seg, np.arange(n))
    sizes = np.bincount(seg, minlength=n)
    pad = len(seg)  # index of the zero row appended by the block
    plain, strided = [], []
    for start, size in zip(starts, sizes, strict=True):
        rows = np.arange(start, start + size)
        plain.append(rows)
        blocks = -(-size // stride)
        grid = np.full(blocks * stride, pad)
        grid[:size] = rows
        strided.append(grid.reshape(blocks, stride).T.reshape(-1))  # (k w) → (w k)
    out = []
    for sequences in (plain, strided):
        width = max(len(s) for s in sequences)
        table = np.full((n, width), pad)
        for b, s in enumerate(sequences):
            table[b, : len(s)] = s
        gather = torch.as_tensor(table, device=segments.device)
        out.append((gather, gather != pad))
    return out


class MambaPooling(nn.Module):
    """MambaMIL: SR-Mamba layers over each bag, then attention pooling."""

    attention = True
    order_invariant = False  # a sequence model: instance order matters

    def __init__(
        self, dim: int, attention_dim: int = 128, layers: int = 2, stride: int = 10
    ) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.blocks = nn.ModuleList(MambaBlock(dim) for _ in range(layers))
        self.final = nn.LayerNorm(dim)
        self.pool = AttentionPooling(dim, attention_dim)
        self.stride = stride

    def forward(self, h, segments, n, hidden=None):
        orders = bag_orders(segments, n, self.stride)
        for norm, block in zip(self.norms, self.blocks, strict=True):
            h = h + block(norm(h), orders)
        return self.pool(self.final(h), segments, n, hidden)


AGGREGATORS.register("mamba", "MambaMIL: SR-Mamba layers + attention (Yang et al. 2024)")(
    MambaPooling
)
