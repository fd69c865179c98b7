"""Fitting with group labels (class × attribute): handing them to a head tagged `groups`
(through a pipeline's transforms), and the group-balanced subsample group-robust methods draw."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline


def fit_with_groups(model: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> Any:
    """`model.fit(X, y)`, handing `groups` to a head that learns from them."""
    from headstart.heads.tags import head_tags

    if groups is None or not head_tags(model).groups:
        return model.fit(X, y)
    if isinstance(model, Pipeline):
        return model.fit(X, y, **{f"{model.steps[-1][0]}__groups": groups})
    return model.fit(X, y, groups=groups)


def balanced_subsample(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As many rows of every group as the smallest group has, drawn without replacement
    (sorted row indices)."""
    names, counts = np.unique(groups, return_counts=True)
    smallest = int(counts.min())
    chosen = [rng.permutation(np.flatnonzero(groups == g))[:smallest] for g in names]
    return np.sort(np.concatenate(chosen))


def linear_scores(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's binary (1, d) weights as two-class scores (−s/2, s/2), whose softmax is
    the logistic probability; (k, d) weights as they are."""
    if coef.shape[0] == 1:
        return np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept


def worst_group_accuracy(y: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> float:
    """The lowest accuracy over the groups present."""
    return float(min(np.mean(predicted[groups == g] == y[groups == g]) for g in np.unique(groups)))
