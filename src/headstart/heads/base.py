"""`Head`: the scikit-learn classifier contract shared by every head.

A head implements `_fit(X, y_index)` and `_scores(X) -> (n, n_classes)`; this base class does the
input checks, label encoding and the one-score-function-feeds-all prediction methods.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from headstart.heads.tags import HeadTags

# scikit-learn's warning for y with more classes than half the samples: at one shot per class
# it would fire on every fit of every head
FEW_SHOT_WARNING = "The number of unique classes is greater than 50% of the number of samples"


class Head(ClassifierMixin, BaseEstimator):
    """Base of all heads: NumPy in and out, fitted state ending in `_`."""

    def __headstart_tags__(self) -> HeadTags:
        """What this head can do (see `heads.tags`); subclasses change what differs."""
        return HeadTags()

    def fit(self, X: Any, y: Any, views: Any = None, groups: Any = None) -> Head:
        """Fit on embeddings `X` (n, d) and labels `y` (any hashable labels).

        `views` (n, v, d), for heads tagged `views`: augmented views of each row of X
        (view 0 is the row itself), as `headstart embed --views` stores them.
        `groups` (n,), for heads tagged `groups` (and required by them): each row's group
        (class × attribute, e.g. "waterbird|land").
        """
        tags = self.__headstart_tags__()
        if (groups is not None) != tags.groups:
            raise ValueError(
                f"{type(self).__name__} learns from the group of each row: fit(X, y, groups=...)"
                if tags.groups
                else f"{type(self).__name__} does not learn from groups; fit it without them"
            )
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        with warnings.catch_warnings():  # one item per class is the few-shot norm, not a
            warnings.filterwarnings("ignore", message=FEW_SHOT_WARNING)  # regression target
            check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{self.classes_[0]!r}"
            )
        if groups is not None:
            groups = np.asarray(groups).astype(str)
            if groups.shape != (len(X),):
                raise ValueError(f"{len(groups)} groups for {len(X)} rows")
            self._fit_groups(X, y_index, groups)
        elif views is None:
            self._fit(X, y_index)  # float32 stays float32: embeddings are, and copies cost
        else:
            self._fit_views(X, y_index, self._checked_views(views, X))
        return self

    def extend(self, X: Any, y: Any) -> Head:
        """Add new classes from their items `X`, `y` without refitting the others (heads
        tagged `incremental`); labels already known are an error."""
        if not self.__headstart_tags__().incremental:
            raise ValueError(f"{type(self).__name__} cannot add classes without a refit")
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"{len(y)} labels for {len(X)} rows")
        new = np.unique(y)
        known = np.intersect1d(new, self.classes_)
        if len(known):
            raise ValueError(
                f"classes {known[:5].tolist()} are known already; extend adds new ones"
            )
        index = np.searchsorted(new, y)
        self._extend(X, index)
        self.classes_ = np.concatenate([self.classes_, new])
        return self

    def _extend(self, X: np.ndarray, y_index: np.ndarray) -> None:
        raise NotImplementedError

    def _checked_views(self, views: Any, X: np.ndarray) -> np.ndarray:
        if not self.__headstart_tags__().views:
            raise ValueError(
                f"{type(self).__name__} cannot use augmented views; fit it on the plain "
                "rows (views=None)"
            )
        views = np.asarray(views, dtype=X.dtype)
        if views.ndim != 3 or views.shape[0] != X.shape[0] or views.shape[2] != X.shape[1]:
            raise ValueError(
                f"views must have shape (n_rows, n_views, n_features) = ({X.shape[0]}, v, "
                f"{X.shape[1]}), got {views.shape}"
            )
        if not np.isfinite(views).all():
            raise ValueError("views contain NaN or infinite values")
        return views

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _fit_views(self, X: np.ndarray, y: np.ndarray, views: np.ndarray) -> None:
        raise NotImplementedError

    def _fit_groups(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
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
