"""`InstanceMILClassifier`: an INS-style instance classifier (Qu et al., TCSVT 2024).

Bag labels become partial instance labels: an instance of a negative bag is negative; an
instance of a positive bag may be either. Each instance keeps a soft target over its
candidates, starting uniform; after every epoch it moves towards the model's own choice among
the candidates, t ← m·t + (1 − m)·onehot(argmax(p ⊙ candidates)), with m going from 0.95 to
0.8 — except that the most positive instance of every positive bag is chosen positive (the
MIL constraint; without it the majority class absorbs every candidate). The instance
classifier (standardise → Linear + ReLU → Linear) is trained by cross-entropy against these
targets; a bag's score is the max (or mean) of its instances' positive probabilities. (INS
also trains a MoCo branch with prototypes; that part is left out here.) Binary bags only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from headstart.exceptions import DataError
from headstart.mil.aggregators import segment_sum
from headstart.mil.bags import Bags


class InstanceMILClassifier(ClassifierMixin, BaseEstimator):
    """Instance classifier from bag labels by progressive partial-label disambiguation."""

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

    def fit(self, bags: Bags, y=None) -> InstanceMILClassifier:
        labels = np.asarray(bags.labels if y is None else y)
        if set(np.unique(labels)) != {0, 1}:
            raise DataError("InstanceMILClassifier needs binary bag labels 0 and 1, both present")
        if self.pooling not in ("max", "mean"):
            raise ValueError(f"pooling must be 'max' or 'mean', got {self.pooling!r}")
        self.classes_ = np.array([0, 1])
        self.mean_ = bags.instances.mean(0)
        spread = bags.instances.std(0)
        self.scale_ = np.where(spread > 1e-6, spread, 1.0)
        x = torch.from_numpy(((bags.instances - self.mean_) / self.scale_).astype(np.float32))
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
        x = torch.from_numpy(((bags.instances - self.mean_) / self.scale_).astype(np.float32))
        return torch.softmax(self.model_(x), dim=1)[:, 1].numpy()

    def predict_proba(self, bags: Bags) -> np.ndarray:
        scores = torch.from_numpy(self.instance_proba(bags).astype(np.float64))
        segments = torch.from_numpy(np.repeat(np.arange(len(bags)), bags.sizes))
        if self.pooling == "max":
            out = torch.zeros(len(bags), dtype=torch.float64)
            bag = out.scatter_reduce(0, segments, scores, reduce="amax", include_self=False)
        else:
            bag = segment_sum(scores, segments, len(bags)) / torch.from_numpy(bags.sizes)
        bag = bag.numpy()
        return np.stack([1 - bag, bag], axis=1)

    def predict(self, bags: Bags) -> np.ndarray:
        return self.classes_[self.predict_proba(bags).argmax(1)]
