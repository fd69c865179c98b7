"""Fitting any model (a head, or a head behind transforms) with augmented support views.

A head that `uses_views` gets them; a `Pipeline` passes them through its fitted transforms
first, so the head sees the views in the same space as the rows. Models whose head cannot use
views are fitted on the plain rows alone — exactly what they get without views.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline


def final_step(model: Any) -> Any:
    """The head of a model (the last step of a pipeline)."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def head_inputs(model: Any, X: Any) -> Any:
    """X as the model's head sees it (a pipeline's transforms applied)."""
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1].transform(X)
    return X


def uses_views(model: Any) -> bool:
    """Whether the model's head learns from augmented views."""
    from headstart.heads.tags import head_tags  # tags read final_step from here

    return head_tags(model).views


def fit_with_views(model: Any, X: np.ndarray, y: np.ndarray, views: np.ndarray | None) -> Any:
    """`model.fit(X, y)`, handing `views` (n, v, d) to a head that uses them."""
    if views is None or not uses_views(model):
        return model.fit(X, y)
    if not isinstance(model, Pipeline):
        return model.fit(X, y, views=views)
    n, n_views, d = views.shape
    flat = views.reshape(n * n_views, d)
    for _, transform in model.steps[:-1]:
        X = transform.fit_transform(X, y)
        flat = transform.transform(flat)
    final_step(model).fit(X, y, views=flat.reshape(n, n_views, -1))
    return model
