"""`MLP`: a one-hidden-layer ReLU network on embeddings — the smallest nonlinear probe, and the
"standard model" of input-gradient studies (Shah et al. 2021 train MLPs on BlockMNIST): trained
from a seeded initialisation with Adam on the cross-entropy, full batch, weight decay as L2,
in float32."""

from __future__ import annotations

import numpy as np
import torch

from headstart.heads.base import Head
from headstart.heads.registry import register_head


class MLP(Head):
    """One hidden ReLU layer, Adam on the cross-entropy (seeded)."""

    def __init__(
        self,
        hidden: int = 256,
        epochs: int = 200,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.hidden < 1 or self.epochs < 1 or self.lr <= 0:
            raise ValueError("hidden and epochs must be ≥ 1 and lr > 0")
        generator = torch.Generator().manual_seed(self.random_state)
        d, k = X.shape[1], len(self.classes_)
        first = torch.nn.Linear(d, self.hidden, dtype=torch.float32)
        second = torch.nn.Linear(self.hidden, k, dtype=torch.float32)
        for layer in (first, second):  # PyTorch's default initialisation, from our generator
            bound = 1 / np.sqrt(layer.in_features)
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
        inputs = torch.as_tensor(np.asarray(X, dtype=np.float32))
        targets = torch.as_tensor(y)
        params = [*first.parameters(), *second.parameters()]
        optimiser = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        for _ in range(self.epochs):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(second(torch.relu(first(inputs))), targets)
            loss.backward()
            optimiser.step()
        self.W1_, self.b1_ = (p.detach().numpy().astype(np.float64) for p in first.parameters())
        self.W2_, self.b2_ = (p.detach().numpy().astype(np.float64) for p in second.parameters())

    def _scores(self, X: np.ndarray) -> np.ndarray:
        hidden = np.maximum(np.asarray(X, dtype=np.float64) @ self.W1_.T + self.b1_, 0.0)
        return hidden @ self.W2_.T + self.b2_


register_head("mlp", MLP)
