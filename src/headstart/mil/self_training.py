"""`SelfTrainingMIL`: headstart's own instance classifier by self-training (not INS).

Bag labels become partial instance labels: an instance of a negative bag is negative; an
instance of a positive bag may be either. Each instance keeps a soft target over its
candidates, starting uniform; after every epoch (from the first) it moves towards the
model's own choice among the candidates, t ← m·t + (1 − m)·onehot(argmax(p ⊙ candidates)),
with m going from 0.95 to 0.8 — except that the most positive instance of every positive bag
is chosen positive (the MIL constraint; without it the majority class absorbs every
candidate). The instance classifier (standardise → Linear + ReLU → Linear) is trained by
cross-entropy against these targets; a bag's score is the max (or mean) of its instances'
positive probabilities. Binary bags only.

This is ours. It borrows INS's partial-label targets and their momentum (Qu et al., TCSVT
2024) but not its method: no warm-up, targets from the classifier's argmax instead of
prototype scores, no contrastive branch, no bag head, and a top-instance rule INS does not
have. INS itself is `headstart.mil.ins.INS`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from headstart.mil.bags import Bags
from headstart.mil.instance_models import (
    POOLINGS,
    InstanceClassifierBase,
    binary_bag_labels,
    pool_instance_scores,
)


class SelfTrainingMIL(InstanceClassifierBase):
    """Instance classifier from bag labels by self-training on its own candidate argmax."""

    def __init__(
        self,
        hidden: int = 128,
        pooling: str = "max",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 30,
        batch_size: int = 512,
        momentum: tuple[float, float] = (0.95, 0.8),
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.pooling = pooling
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.momentum = momentum
        self.random_state = random_state

    def fit(self, bags: Bags, y: object = None) -> SelfTrainingMIL:
        labels = binary_bag_labels(bags, y, "SelfTrainingMIL")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        self._fit_statistics(bags.instances)
        x = self._standardised(bags)
        positive_bag = torch.from_numpy(np.repeat(labels, bags.sizes).astype(bool))
        candidates = torch.stack([torch.ones_like(positive_bag), positive_bag], 1).float()
        targets = candidates / candidates.sum(1, keepdim=True)  # uniform over candidates
        torch.manual_seed(self.random_state)
        self.model_ = nn.Sequential(
            nn.Linear(bags.dim, self.hidden), nn.ReLU(), nn.Linear(self.hidden, 2)
        )
        optimiser = torch.optim.Adam(
            self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        generator = torch.Generator().manual_seed(self.random_state)
        start, end = self.momentum
        for epoch in range(self.epochs):
            self.model_.train()
            for batch in torch.randperm(len(x), generator=generator).split(self.batch_size):
                log_p = F.log_softmax(self.model_(x[batch]), dim=1)
                loss = -(targets[batch] * log_p).sum(1).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            with torch.no_grad():  # disambiguate: move targets towards the best candidate
                self.model_.eval()
                p = torch.softmax(self.model_(x), dim=1) * candidates
                choice = F.one_hot(p.argmax(1), 2).float()
                # the MIL constraint: a positive bag holds at least one positive instance
                choice[self._top_instances(p[:, 1], bags, labels)] = torch.tensor([0.0, 1.0])
                m = start + (end - start) * epoch / max(1, self.epochs - 1)
                targets = m * targets + (1 - m) * choice
        self.instance_targets_ = targets.numpy()
        return self

    @staticmethod
    def _top_instances(scores: torch.Tensor, bags: Bags, labels: np.ndarray) -> torch.Tensor:
        """Row of the most positive instance of every positive bag."""
        rows = [
            bags.offsets[b] + int(scores[bags.offsets[b] : bags.offsets[b + 1]].argmax())
            for b in np.flatnonzero(labels == 1)
        ]
        return torch.as_tensor(rows, dtype=torch.long)

    @torch.no_grad()
    def instance_proba(self, bags: Bags) -> np.ndarray:
        """Positive-class probability of every instance (N,)."""
        self.model_.eval()
        return torch.softmax(self.model_(self._standardised(bags)), dim=1)[:, 1].numpy()

    def predict_proba(self, bags: Bags) -> np.ndarray:
        """(B, 2): a bag's positive probability is the max (or mean) over its instances."""
        bag = pool_instance_scores(
            self.instance_proba(bags).astype(np.float64), bags.offsets, self.pooling
        )
        return np.stack([1 - bag, bag], axis=1)
