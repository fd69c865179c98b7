"""Instance-level MIL classifiers: they learn an instance classifier from bag labels alone and
score a bag from its instances. What they share lives here — binary bag labels, input
standardisation, pooling instance scores into bag scores — with their registry
(`INSTANCE_CLASSIFIERS`: `self-training`, `ins`; registered in `headstart.mil`).

Nothing here trains; bag-level models that pool embeddings are `MILClassifier`'s business.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from headstart.exceptions import DataError
from headstart.mil.bags import Bags
from headstart.registry import Registry

INSTANCE_CLASSIFIERS: Registry = Registry("instance MIL classifier")
POOLINGS = ("max", "mean")


def binary_bag_labels(bags: Bags, y: object, owner: str) -> np.ndarray:
    """The bag labels (0 = negative, 1 = positive) as an int array; both must be present."""
    labels = np.asarray(bags.labels if y is None else y)
    if len(labels) != len(bags):
        raise DataError(f"{owner}: {len(labels)} labels for {len(bags)} bags")
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise DataError(f"{owner} needs binary bag labels 0 and 1, both present")
    return labels.astype(np.int64)


def pool_instance_scores(scores: np.ndarray, offsets: np.ndarray, how: str) -> np.ndarray:
    """Each bag's max or mean of its instances' scores (bag b: rows offsets[b]:offsets[b+1])."""
    starts = offsets[:-1]
    if how == "max":
        return np.maximum.reduceat(scores, starts)
    if how == "mean":
        return np.add.reduceat(scores, starts) / np.diff(offsets)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")


class InstanceClassifierBase(ClassifierMixin, BaseEstimator):
    """Standardisation with training statistics and `predict` from `predict_proba`; a
    subclass fits `mean_`/`scale_` with `_fit_statistics` and implements `predict_proba`."""

    def _fit_statistics(self, instances: np.ndarray) -> None:
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = instances.shape[1]
        self.mean_ = instances.mean(0)
        spread = instances.std(0)
        self.scale_ = np.where(spread > 1e-6, spread, 1.0)

    def _standardised(self, bags: Bags) -> torch.Tensor:
        """Instances (N, D) standardised with the training statistics, as float32."""
        if bags.dim != self.n_features_in_:
            raise DataError(
                f"bags have {bags.dim} features per instance; the model was fitted on "
                f"{self.n_features_in_}"
            )
        return torch.from_numpy(((bags.instances - self.mean_) / self.scale_).astype(np.float32))

    def predict(self, bags: Bags) -> np.ndarray:
        return self.classes_[self.predict_proba(bags).argmax(1)]
