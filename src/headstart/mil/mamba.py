"""`mamba` aggregator: MambaMIL (Yang, Wang, Chen; MICCAI 2024) on packed bags, CPU-ready.

Two residual pre-LayerNorm SR-Mamba layers run over each bag's instance sequence, then
LayerNorm and ABMIL attention pooling. An SR-Mamba layer (official `srmamba.py`) projects
the instances to x and a gate z (no bias), and scans x in two orders, each with its own
causal depthwise convolution, x/Δ projections, A and D: the sequence itself, and its
strided reordering "(k w) → (w k)" with w = R (the bag zero-padded to a multiple of R).
Both outputs are put back in sequence order, summed, gated by SiLU(z) and projected out (no
bias). As in the official MambaMIL, every Linear starts Xavier-normal with zero bias. The
scan is `selective_scan` (plain torch); both orders of every bag run in one scan call.
Unlike pooling, this aggregator depends on instance order (the point of a sequence model);
each bag is still computed independently of the others packed with it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from headstart.mil.aggregators import AGGREGATORS, AttentionPooling
from headstart.mil.selective_scan import selective_scan


class ScanBranch(nn.Module):
    """The parameters of one scan order: convolution, x/Δ projections, A and D."""

    def __init__(self, inner: int, rank: int, d_state: int, d_conv: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(inner, rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(rank, inner)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1).float()).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.rank, self.d_state = rank, d_state

    def scan_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, L, inner) right-padded sequences → u, Δ, B, C of the scan. The convolution is
        causal, so padding after a bag's end never reaches its instances."""
        length = x.shape[1]
        u = F.silu(self.conv(x.transpose(1, 2))[..., :length].transpose(1, 2))
        dt, B, C = self.x_proj(u).split([self.rank, self.d_state, self.d_state], dim=-1)
        return u, F.softplus(self.dt_proj(dt)), B, C


class MambaBlock(nn.Module):
    """One SR-Mamba mixer (d_state N, d_conv, expand): shared in/out projections, one
    `ScanBranch` per order."""

    def __init__(self, dim: int, d_state: int = 16, d_conv: int = 4, expand: int = 2) -> None:
        super().__init__()
        inner = expand * dim
        rank = math.ceil(dim / 16)
        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.branches = nn.ModuleList(ScanBranch(inner, rank, d_state, d_conv) for _ in range(2))
        self.out_proj = nn.Linear(inner, dim, bias=False)

    def forward(self, h: torch.Tensor, orders: list[tuple[torch.Tensor, torch.Tensor]]):
        """h (N, dim) packed; each order is (gather (B, L) indices into h or N → a zero row,
        mask of real positions); one order per branch, all of the same width L."""
        x, z = self.in_proj(h).chunk(2, dim=-1)
        padded_x = torch.cat([x, x.new_zeros(1, x.shape[1])])  # row N: zeros for padding
        parts = [
            branch.scan_inputs(padded_x[gather])
            for branch, (gather, _) in zip(self.branches, orders, strict=True)
        ]
        u, delta, B, C = (torch.cat(tensors) for tensors in zip(*parts, strict=True))
        bags = orders[0][0].shape[0]
        A = torch.cat([-torch.exp(b.A_log).expand(bags, -1, -1) for b in self.branches])
        D = torch.cat([b.D.expand(bags, -1) for b in self.branches])
        scanned = selective_scan(u, delta, A, B, C) + u * D[:, None, :]  # (2B, L, inner)
        total = torch.zeros_like(x)
        for (gather, real), part in zip(orders, scanned.split(bags), strict=True):
            total = total.index_add(0, gather[real], part[real])
        return self.out_proj(total * F.silu(z))


def bag_orders(segments: torch.Tensor, n: int, stride: int) -> list[tuple[torch.Tensor, ...]]:
    """Gather indices (B, L) for the sequence order and the strided reordering of every bag
    (index N → the zero row), padded to one width L, and the mask of real positions."""
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
    width = max(len(s) for s in strided)  # ≥ every bag's own length
    out = []
    for sequences in (plain, strided):
        table = np.full((n, width), pad)
        for b, s in enumerate(sequences):
            table[b, : len(s)] = s
        gather = torch.as_tensor(table, device=segments.device)
        out.append((gather, gather != pad))
    return out


def official_init(module: nn.Module) -> None:
    """MambaMIL's `initialize_weights`: Xavier-normal Linear weights, zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


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
        official_init(self)

    def forward(self, h, segments, n, hidden=None):
        orders = bag_orders(segments, n, self.stride)
        for norm, block in zip(self.norms, self.blocks, strict=True):
            h = h + block(norm(h), orders)
        return self.pool(self.final(h), segments, n, hidden)


AGGREGATORS.register("mamba", "MambaMIL: SR-Mamba layers + attention (Yang et al. 2024)")(
    MambaPooling
)
