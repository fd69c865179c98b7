"""Heads: scikit-learn classifiers fitted on embeddings, registered by name."""

from headstart.heads.base import Head
from headstart.heads.gaussian_nb import GaussianNB
from headstart.heads.gda import GDA
from headstart.heads.knn import KNN
from headstart.heads.linear_probe import LinearProbe
from headstart.heads.linear_svm import LinearSVM
from headstart.heads.prototype import Prototype
from headstart.heads.registry import HEADS, create_head, list_heads
from headstart.heads.transforms import Center, L2Normalize, PCAWhiten

__all__ = [
    "GDA",
    "HEADS",
    "KNN",
    "Center",
    "GaussianNB",
    "Head",
    "L2Normalize",
    "LinearProbe",
    "LinearSVM",
    "PCAWhiten",
    "Prototype",
    "create_head",
    "list_heads",
]
