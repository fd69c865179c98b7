"""Issue 15: representation metrics equal their formulas."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.adapt.metrics import alignment, separability, tolerance, uniformity


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_uniformity_alignment_tolerance_and_separability_equal_their_formulas():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    labels = np.repeat(np.arange(4), 10)
    u = _unit(X)
    pairs = [(i, j) for i in range(40) for j in range(i + 1, 40)]
    potential = [np.exp(-2 * np.sum((u[i] - u[j]) ** 2)) for i, j in pairs]
    assert uniformity(X) == pytest.approx(np.log(np.mean(potential)))
    same = [u[i] @ u[j] for i, j in pairs if labels[i] == labels[j]]
    assert tolerance(X, labels) == pytest.approx(np.mean(same))
    Y = X + rng.normal(size=X.shape) * 0.1
    expected = np.mean(np.sum((u - _unit(Y)) ** 2, axis=1))
    assert alignment(X, Y) == pytest.approx(expected)
    centre = u.mean(0)
    between = sum(10 * np.sum((u[labels == c].mean(0) - centre) ** 2) for c in range(4))
    within = sum(np.sum((u[labels == c] - u[labels == c].mean(0)) ** 2) for c in range(4))
    assert separability(X, labels) == pytest.approx(between / within)


def test_collapsed_features_are_least_uniform_and_most_tolerant():
    rng = np.random.default_rng(1)
    spread = rng.normal(size=(200, 8))
    collapsed = np.ones((200, 8)) + rng.normal(size=(200, 8)) * 0.01
    labels = rng.integers(0, 2, 200)
    assert uniformity(collapsed) > -0.01 > uniformity(spread)
    assert tolerance(collapsed, labels) > 0.99 > tolerance(spread, labels)
