"""What every contrastive loss receives, and the registry they are found in by name.

A loss is an `nn.Module` called on a `Pair` batch: unit-norm adapted embeddings of B anchors
and of one positive each (an augmented view, a neighbour, or an item of the same class), the
anchors' labels when the store has them, and their row numbers in the store. Losses that need
the whole store first (cluster centres, a neighbour graph) do it in `prepare(X, y, train)`:
X and y are every row the trainer indexes by `Pair.index`, `train` the rows that train (the
rest are its held-out rows); what a loss learns from labels may come from `train` only.
Losses with parameters whose shape follows the adapter's output (projection heads) make them
in `build(width)`. A loss that only makes sense with one kind of positive names the kinds it
accepts in `positive_sources`; one that contrasts a target store with a background store sets
`needs_background`, and then receives the group (0 background, 1 target) as `Pair.labels`.
A loss that sets `key_momentum` m (MoCo-style) receives positives from a momentum copy of the
adapter, updated after every step as k ← m·k + (1 − m)·q and never by a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from headstart.registry import Registry

LOSSES: Registry[nn.Module] = Registry("loss")


@dataclass
class Pair:
    """One mini-batch: anchors `z` (B, d) and positives `z_pos` (B, d), unit norm."""

    z: torch.Tensor
    z_pos: torch.Tensor
    labels: torch.Tensor | None = None  # (B,) int64, −1 unlabelled
    index: torch.Tensor | None = None  # (B,) row numbers in the store


class ContrastiveLoss(nn.Module):
    """Base: `needs_labels` losses refuse an unlabelled store before training starts."""

    needs_labels = False
    needs_background = False
    positive_sources: tuple[str, ...] | None = None  # None: views, labels or neighbours
    key_momentum: float | None = None  # set: positives from a momentum copy of the adapter

    def __init__(self, tau: float = 0.1) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.tau = tau

    def prepare(self, X: np.ndarray, y: np.ndarray | None, train: np.ndarray) -> None:
        """Look at the store once before training; most losses do not."""

    def build(self, width: int) -> None:
        """Make parameters sized by the adapter's output width; most losses have none."""

    def forward(self, batch: Pair) -> torch.Tensor:
        raise NotImplementedError


def both_views(batch: Pair) -> tuple[torch.Tensor, torch.Tensor]:
    """(2B, d) anchors then positives, and the index of each row's partner."""
    b = len(batch.z)
    z = torch.cat([batch.z, batch.z_pos])
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    return z, partner


def create_loss(name: str, **options) -> ContrastiveLoss:
    """A loss by registered name (close names suggested)."""
    return LOSSES.create(name, **options)
