"""Instance encoders φ: the network that embeds each instance before the bag is pooled.

- `mlp` (default): Linear + ReLU + Dropout on instance vectors (embeddings, tabular features);
- `ilse-mlp`: the three-layer embedding network of Ilse et al. (2018) for the classic MIL
  sets (MUSK, Elephant, ...): fc-256, fc-128, fc-`hidden` (64 in the paper), each ReLU +
  dropout;
- `lenet`: the small CNN of Ilse et al. (2018) for square grey images stored flattened (28×28
  digits): two 5×5 convolutions (20 and 50 channels) with max-pooling, then Linear + ReLU.
  Images are standardised with one mean and scale over all pixels (per-pixel statistics
  would make the blank border pixels as loud as the strokes).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from headstart.exceptions import DataError
from headstart.registry import Registry

INSTANCE_ENCODERS: Registry = Registry("instance encoder")


@INSTANCE_ENCODERS.register("mlp", "Linear + ReLU on instance vectors")
class MLPEncoder(nn.Module):
    """One hidden layer on instance vectors."""

    per_feature_statistics = True

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@INSTANCE_ENCODERS.register("ilse-mlp", "Ilse et al.'s three-layer network: fc-256, fc-128, fc")
class IlseMLPEncoder(nn.Module):
    """fc-256 → ReLU → dropout → fc-128 → ReLU → dropout → fc-hidden → ReLU → dropout."""

    per_feature_statistics = True

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        widths = (dim, 256, 128, hidden)
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@INSTANCE_ENCODERS.register("lenet", "Ilse et al.'s small CNN on flattened square grey images")
class LeNetEncoder(nn.Module):
    """conv5(20) → ReLU → pool2 → conv5(50) → ReLU → pool2 → Linear(hidden) → ReLU."""

    per_feature_statistics = False

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.side = math.isqrt(dim)
        if self.side * self.side != dim or self.side < 16:
            raise DataError(
                f"the 'lenet' encoder needs square images of at least 16×16 pixels flattened "
                f"to one row; got {dim} features per instance"
            )
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        reduced = ((self.side - 4) // 2 - 4) // 2
        self.project = nn.Sequential(
            nn.Linear(50 * reduced * reduced, hidden), nn.ReLU(), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = x.reshape(len(x), 1, self.side, self.side)
        return self.project(self.features(images).flatten(1))
