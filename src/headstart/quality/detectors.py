"""The label-error detectors by registry name, one calling convention for all: given the
embeddings, the given labels (0..K−1), out-of-fold probabilities and the head that produced
them, each returns a per-item score (higher: more likely mislabelled), a flag, and the label
it would suggest instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from headstart.quality.confident_learning import find_label_issues
from headstart.quality.knn_disagreement import knn_disagreement
from headstart.quality.linear_separation import linear_separation_issues
from headstart.quality.small_loss import clean_probability
from headstart.registry import Registry


@dataclass
class Detection:
    """One detector's verdict on every item."""

    score: np.ndarray
    flag: np.ndarray
    suggestion: np.ndarray


def _best_other(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each item's most probable class other than its given label."""
    others = proba.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return others.argmax(axis=1)


def _margin(labels: np.ndarray, proba: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Best other class's probability minus the given label's: cleanlab's ranking score."""
    rows = np.arange(len(labels))
    return proba[rows, other] - proba[rows, labels]


def confident_learning(X, labels, proba, model, seed) -> Detection:
    other = _best_other(labels, proba)
    return Detection(_margin(labels, proba, other), find_label_issues(labels, proba), other)


def small_loss(X, labels, proba, model, seed) -> Detection:
    noisy = 1.0 - clean_probability(labels, proba, seed)
    return Detection(noisy, noisy > 0.5, _best_other(labels, proba))


def knn(X, labels, proba, model, seed) -> Detection:
    score, flag, majority = knn_disagreement(X, labels, k=min(10, len(labels) - 1))
    return Detection(score, flag, majority)


def lsa(X, labels, proba, model, seed) -> Detection:
    """The paper's LSA: one separator over every item, fitted in sample as the official code."""
    score, flag = linear_separation_issues(X, labels, model, seed=seed)
    return Detection(score, flag, _best_other(labels, proba))


def lsa_per_label(X, labels, proba, model, seed) -> Detection:
    """Our variant: one cross-fitted separator per given label (finds in-class label flips)."""
    score, flag = linear_separation_issues(
        X, labels, model, by_label=True, cross_fit=True, seed=seed
    )
    return Detection(score, flag, _best_other(labels, proba))


DETECTORS: Registry[Callable[..., Detection]] = Registry("detector")
for _name, _detector in {
    "confident-learning": confident_learning,
    "small-loss": small_loss,
    "knn": knn,
    "lsa": lsa,
    "lsa-per-label": lsa_per_label,
}.items():
    DETECTORS.register(_name)(_detector)
DEFAULT_DETECTORS = ("confident-learning", "small-loss", "knn")


def run_detector(
    name: str, X: np.ndarray, labels: np.ndarray, proba: np.ndarray, model: Any, seed: int = 0
) -> Detection:
    """Detector `name` on one labelled set."""
    return DETECTORS.entry(name)[0].factory(X, labels, proba, model, seed)
