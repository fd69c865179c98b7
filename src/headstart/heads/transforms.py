"""Feature transforms for `Pipeline`s in front of a head: L2-normalise, centre, PCA-whiten."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from headstart.registry import Registry
from headstart.vector_index import unit_rows as l2_normalize


class L2Normalize(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale each row to unit Euclidean length (stateless)."""

    def fit(self, X: Any, y: Any = None) -> L2Normalize:
        validate_data(self, X, dtype=[np.float64, np.float32])
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return l2_normalize(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class Center(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Subtract the training mean (the support set's, never the test set's)."""

    def fit(self, X: Any, y: Any = None) -> Center:
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.mean_ = X.mean(axis=0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X - self.mean_


class PCAWhiten(TransformerMixin, BaseEstimator):
    """Project on the top principal directions and scale each to unit variance.

    `n_components` None keeps min(n, d) − 1 directions; `eps` guards tiny variances.
    """

    def __init__(self, n_components: int | None = None, eps: float = 1e-6) -> None:
        self.n_components = n_components
        self.eps = eps

    def fit(self, X: Any, y: Any = None) -> PCAWhiten:
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        self.mean_ = X.mean(axis=0)
        _, singular, vt = np.linalg.svd(X - self.mean_, full_matrices=False)
        keep = self.n_components or max(1, min(X.shape) - 1)
        variance = singular[:keep] ** 2 / (len(X) - 1)
        self.components_ = vt[:keep]
        self.scale_ = 1.0 / np.sqrt(variance + self.eps)
        self.n_components_ = keep
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return (X - self.mean_) @ self.components_.T * self.scale_

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        return np.array([f"pcawhiten{i}" for i in range(self.n_components_)], dtype=object)


TRANSFORMS: Registry[TransformerMixin] = Registry("transform")
TRANSFORMS.register("l2-normalize")(L2Normalize)
TRANSFORMS.register("center")(Center)
TRANSFORMS.register("pca-whiten")(PCAWhiten)
