"""Adapting the representation: contrastive adapters on embeddings and representation metrics."""

from headstart.adapt.losses import LOSSES, Pair, create_loss
from headstart.adapt.metrics import (
    alignment,
    representation_metrics,
    separability,
    tolerance,
    uniformity,
)

__all__ = [
    "LOSSES",
    "Pair",
    "alignment",
    "create_loss",
    "representation_metrics",
    "separability",
    "tolerance",
    "uniformity",
]
