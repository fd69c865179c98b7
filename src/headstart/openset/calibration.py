"""Temperature scaling (Guo et al. 2017) fitted on held-out folds of the support set.

Every support item is scored by a clone of the head fitted on the other folds (stratified,
as many folds as the smallest class has items, at most 5); the temperature T minimises the
negative log-likelihood of those out-of-fold logits divided by T. Test items are never
seen. With fewer than two items in some class there is no held-out item to learn from, and
T stays 1 (`how_` says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from headstart.openset.scores import logits

MAX_FOLDS = 5
LOG_T_RANGE = (-4.0, 4.0)  # T between e⁻⁴ and e⁴


def out_of_fold_logits(
    model: Any, X: np.ndarray, y: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """(logits, labels as class indices) of every support item from a clone fitted without
    its fold; None when the smallest class has fewer than two items."""
    classes, index = np.unique(y, return_inverse=True)
    smallest = int(np.bincount(index).min())
    if smallest < 2 or len(classes) < 2:
        return None
    folds = StratifiedKFold(min(MAX_FOLDS, smallest), shuffle=True, random_state=seed)
    out = np.zeros((len(y), len(classes)))
    for train, held in folds.split(X, index):
        fitted = clone(model).fit(X[train], y[train])
        out[held] = logits(fitted, X[held])
    return out, index


def nll(scores: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of softmax(scores / T)."""
    return float(-log_softmax(scores / temperature, axis=1)[np.arange(len(labels)), labels].mean())


class TemperatureScaling:
    """`fit(model, X, y)` on the support set; `temperature_` and `how_` after it."""

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray, seed: int = 0) -> TemperatureScaling:
        held = out_of_fold_logits(model, X, y, seed)
        if held is None:
            self.temperature_, self.how_ = 1.0, "not fitted: a class has fewer than 2 items"
            return self
        scores, labels = held
        best = minimize_scalar(
            lambda log_t: nll(scores, labels, float(np.exp(log_t))),
            bounds=LOG_T_RANGE,
            method="bounded",
        )
        self.temperature_ = float(np.exp(best.x))
        folds = min(MAX_FOLDS, int(np.bincount(labels).min()))
        self.how_ = f"NLL of out-of-fold logits, {len(labels)} support items, {folds} folds"
        return self

    def probabilities(self, model: Any, X: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities of a fitted model: softmax(logits / T)."""
        return np.exp(log_softmax(logits(model, X) / self.temperature_, axis=1))
