"""LSA's linear-separation detector (Albert et al., ECCV 2024), on frozen embeddings.

LSA observes that noisy items are close to linearly separable from clean ones in a
self-supervised feature space. It alternates two detectors, each run after the classifier has
been trained on the items the previous one called clean (noisy items get weight 0):
- "loss": a two-component Gaussian mixture on the min–max scaled per-item losses; an item is
  noisy when its posterior of the high-loss component exceeds `threshold` (0.95);
- "linear": the same mixture's verdicts are the targets of a logistic regression (no penalty,
  balanced class weights, standardised features) that separates noisy from clean items; its
  prediction is the new flag.
The official code (PaulAlbert31/LSA, `trainers.py`: `detect_noise`, `get_trusted`; `main.py`:
warm-up 0, `--alternate-ep linear loss`, thresh 0.95) uses these mixture settings (10
iterations, tol 1e-2, reg_covar 5e-4), fits one scaler and one separator on every item and
predicts those same items, and runs "linear", "loss", "linear", … one step per epoch. The
default `steps` is the start of that schedule, stopped after the second separator so the
verdict is the separator's. Here the classifier is a head trained on frozen features, out of
fold, so each item's loss comes from a head that did not see it.

The per-label variant (ours; `by_label=True, cross_fit=True`, registered as `lsa-per-label`)
fits one separator per given label, each cross-fitted: a flipped label is an image of another
class, which one global hyperplane cannot isolate, but within one label the items that truly
belong are separable from those that do not; with fewer items of a label than dimensions an
in-sample unpenalised fit would only return the mixture's verdicts, hence the folds.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from headstart.quality.cross_fit import out_of_fold_proba
from headstart.quality.small_loss import clean_probability

STEPS = ("loss", "linear")
OFFICIAL_STEPS = ("linear", "loss", "linear")  # `--alternate-ep linear loss`, warm-up 0


def _fit_separator(X: np.ndarray, target: np.ndarray):
    """The official separator: standardised features, unpenalised balanced logistic regression
    (`C=inf` is scikit-learn's spelling of `penalty=None`)."""
    scaler = StandardScaler().fit(X)
    separator = LogisticRegression(C=np.inf, class_weight="balanced", max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        separator.fit(scaler.transform(X), target)
    return lambda rows: separator.predict_proba(scaler.transform(rows))[:, 1]


def _separator_scores(X: np.ndarray, target: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Probability of the noisy side of a linear separator fitted to `target`: in sample when
    `folds` is 1 (the official form), else out of fold."""
    score = target.astype(float)  # too few of one side to fit: keep the mixture's verdicts
    if min(target.sum(), (~target).sum()) < folds:
        return score
    if folds == 1:
        return _fit_separator(X, target)(X)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, held in splitter.split(X, target):
        score[held] = _fit_separator(X[train], target[train])(X[held])
    return score


def linear_separation_issues(
    X: np.ndarray,
    labels: np.ndarray,
    model: Any,
    *,
    steps: tuple[str, ...] = OFFICIAL_STEPS,
    threshold: float = 0.95,
    by_label: bool = False,
    cross_fit: bool = False,
    folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy score in [0, 1], flag) per item after running the detectors in `steps` in turn.

    Defaults are the paper's: one separator over every item, fitted and applied in sample.
    `by_label` fits one per given label; `cross_fit` scores each item with a separator fitted
    on the other folds."""
    labels = np.asarray(labels)
    unknown = sorted(set(steps) - set(STEPS))
    if unknown or not steps:
        raise ValueError(f"steps must be a non-empty sequence of {STEPS}, got {steps}")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    separator_folds = folds if cross_fit else 1
    clean = np.ones(len(labels), dtype=bool)
    score = np.zeros(len(labels))
    for step in steps:
        proba = out_of_fold_proba(model, X, labels, folds, seed, train_mask=clean)
        posterior = 1.0 - clean_probability(labels, proba, seed)  # the small-loss mixture
        trusted_noisy = posterior > threshold
        if step == "loss":
            score = posterior
        elif by_label:
            score = np.zeros(len(labels))
            for c in np.unique(labels):
                rows = np.flatnonzero(labels == c)
                score[rows] = _separator_scores(X[rows], trusted_noisy[rows], separator_folds, seed)
        else:
            score = _separator_scores(X, trusted_noisy, separator_folds, seed)
        flag = score > (threshold if step == "loss" else 0.5)
        clean = ~flag
    return score, flag
