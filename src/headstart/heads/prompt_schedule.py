"""CoOp's training schedule (KaiyangZhou/CoOp configs, dassl's optimiser and scheduler), shared
by every head that learns a prompt or class embeddings so they compare on equal terms: SGD
(momentum 0.9, weight decay 5e-4) at 0.002, one warm-up epoch at a constant 1e-5, then cosine
annealing; batches of 32; epochs by shots as the CoOp scripts (50 at 1, 100 at 2 and 4, 200 at
8 and 16). `fit_class_vectors` is the loop every such head runs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

WARMUP_LR = 1e-5


def epochs_for_shots(shots: int) -> int:
    """The CoOp scripts' epochs: 50 at 1 shot, 100 at 2 and 4, 200 from 8."""
    return 50 if shots <= 1 else 100 if shots <= 4 else 200


def _optimiser(parameters: list[torch.nn.Parameter], lr: float) -> torch.optim.SGD:
    return torch.optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=5e-4)


def _set_epoch_rate(optimiser: torch.optim.Optimizer, epoch: int, epochs: int, lr: float) -> None:
    """Epoch 0: the constant warm-up rate; then `lr` annealed on a cosine."""
    rate = WARMUP_LR if epoch == 0 else lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))
    for group in optimiser.param_groups:
        group["lr"] = rate


def fit_class_vectors(
    parameters: list[torch.nn.Parameter],
    class_vectors: Callable[[], torch.Tensor],
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    batch_size: int,
    temperature: float,
    seed: int,
) -> None:
    """Train `parameters` on CoOp's schedule: per batch of shuffled (seeded) rows, the
    cross-entropy of cos(item, class vector) / `temperature`, the (K, d) class vectors made
    afresh by `class_vectors()` from the parameters."""
    items = nn.functional.normalize(torch.as_tensor(X, dtype=torch.float32), dim=-1)
    targets = torch.as_tensor(y, dtype=torch.long)
    optimiser = _optimiser(parameters, lr)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        _set_epoch_rate(optimiser, epoch, epochs, lr)
        order = torch.randperm(len(items), generator=generator)
        for first in range(0, len(items), batch_size):
            batch = order[first : first + batch_size]
            logits = items[batch] @ class_vectors().T / temperature
            loss = nn.functional.cross_entropy(logits, targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
