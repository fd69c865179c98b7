"""Feature bias of a representation (Lampinen, Chan & Hermann, TMLR 2024): how strongly each
attribute of the items is written into the embedding, beside how well it can be read out.

Two numbers per attribute:
- variance explained: the share of the embedding's total variance (trace of its covariance)
  that a linear regression on the attribute reproduces — the paper's measure. A categorical
  attribute is one-hot coded, so this is the between-group share of the variance; a numeric one
  is a single regressor. Computed in sample, as in the paper;
- decodability: how well a linear read-out recovers the attribute from the embedding, out of
  fold — balanced accuracy of a logistic regression (categorical) or R² of a ridge (numeric).
The paper's point is that the two disagree: an attribute can be decoded perfectly while taking
almost no variance, and what takes the variance (easy, early, prevalent features) dominates
similarity-based analyses (RSA, PCA, kNN) downstream.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from headstart.exceptions import DataError


def _kind(values: np.ndarray) -> str:
    """ "numeric" for floats and integers of more than 20 values, else "categorical"."""
    if values.dtype.kind in "fc" or (values.dtype.kind in "iu" and len(np.unique(values)) > 20):
        return "numeric"
    return "categorical"


def _design(values: np.ndarray) -> np.ndarray:
    """The attribute's centred regressors: itself (numeric) or its one-hot code."""
    if _kind(values) == "numeric":
        numeric = values.astype(np.float64)
        return (numeric - numeric.mean())[:, None]
    codes = np.unique(values.astype(str), return_inverse=True)[1]
    onehot = np.eye(codes.max() + 1)[codes]
    return onehot - onehot.mean(0)


def variance_explained(X: np.ndarray, values: np.ndarray) -> float:
    """Share of the total variance of `X` reproduced by a linear regression on `values`."""
    design = _design(np.asarray(values))
    centred = X - X.mean(0)
    coef, *_ = np.linalg.lstsq(design, centred, rcond=None)
    fitted = design @ coef
    return float((fitted**2).sum() / max((centred**2).sum(), 1e-12))


def decodability(X: np.ndarray, values: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Out-of-fold balanced accuracy (categorical) or R² (numeric) of a linear read-out."""
    values = np.asarray(values)
    if _kind(values) == "numeric":
        target = values.astype(np.float64)
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 7)))
        split = KFold(folds, shuffle=True, random_state=seed)
        return float(r2_score(target, cross_val_predict(model, X, target, cv=split)))
    target = values.astype(str)
    smallest = np.unique(target, return_counts=True)[1].min()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))
    split = StratifiedKFold(min(folds, int(smallest)), shuffle=True, random_state=seed)
    predicted = cross_val_predict(model, X, target, cv=split)
    return float(balanced_accuracy_score(target, predicted))


def feature_bias(
    X: np.ndarray, attributes: dict[str, np.ndarray], folds: int = 5, seed: int = 0
) -> list[dict]:
    """One row per attribute: kind, variance explained, decodability and its chance level."""
    rows = []
    for name, values in attributes.items():
        values = np.asarray(values)
        if len(values) != len(X):
            raise DataError(
                f"attribute {name!r} has {len(values)} values for {len(X)} items; give one "
                "value per item of the store, in the store's order"
            )
        kind, chance = _kind(values), 0.0
        if kind == "categorical":
            counts = np.unique(values.astype(str), return_counts=True)[1]
            if len(counts) < 2:
                raise DataError(f"attribute {name!r} has a single value: nothing to explain")
            if counts.min() < 2:
                raise DataError(
                    f"attribute {name!r} has a value held by one item: cannot decode out of fold"
                )
            chance = 1.0 / len(counts)
        rows.append(
            {
                "attribute": name,
                "kind": kind,
                "variance_explained": variance_explained(X, values),
                "decodability": decodability(X, values, folds, seed),
                "chance": chance,
            }
        )
    return rows
