"""`Head`: the scikit-learn classifier contract shared by every head.

A head implements `_fit(X, y_index)` and `_scores(X) -> (n, n_classes)`; this base class does the
input checks, label encoding and the one-score-function-feeds-all prediction methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class Head(ClassifierMixin, BaseEstimator):
    """Base of all heads: NumPy in and out, fitted state ending in `_`."""

    def fit(self, X: Any, y: Any) -> Head:
        """Fit on embeddings `X` (n, d) and labels `y` (any hashable labels)."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{self.classes_[0]!r}"
            )
        self._fit(X, y_index)  # float32 stays float32: embeddings are, and copies are not free
        return self

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _scores(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _validated(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X

    def scores(self, X: Any) -> np.ndarray:
        """Per-class scores (n, n_classes): logits for probabilistic heads."""
        return self._scores(self._validated(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores; for two classes, the score of `classes_[1]` minus that of `classes_[0]`."""
        s = self.scores(X)
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def predict_proba(self, X: Any) -> np.ndarray:
        return softmax(self.scores(X), axis=1)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return log_softmax(self.scores(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        scores = self.scores(X)  # checks fitting before classes_ is touched
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


class LinearHead(Head):
    """A head whose scores are X·coef_ᵀ + intercept_, computed in X's precision."""

    def _scores(self, X: np.ndarray) -> np.ndarray:
        return (X @ self.coef_.T.astype(X.dtype)).astype(np.float64) + self.intercept_
