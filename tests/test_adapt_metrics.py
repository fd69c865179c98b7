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


def test_tolerance_weighs_every_same_class_pair_once_whatever_the_class_sizes():
    """Exact mean over same-class pairs on a 2,500 / 400 / 100 store, against each class's
    Gram matrix summed above its diagonal. Would have caught sampling pairs in proportion to
    class size rather than to its square above 200k pairs (0.235 here; exact 0.151):
    the big loose class then gets too little weight against the two tight small ones."""
    rng = np.random.default_rng(2)
    sizes, spreads = (2500, 400, 100), (3.0, 0.6, 0.3)
    X = np.vstack(
        [
            rng.normal(size=8) + rng.normal(size=(n, 8)) * s
            for n, s in zip(sizes, spreads, strict=True)
        ]
    )
    labels = np.repeat(np.arange(3), sizes)
    u = _unit(X)
    total = pairs = 0
    for c in range(3):
        gram = u[labels == c] @ u[labels == c].T
        upper = np.triu_indices(len(gram), 1)
        total, pairs = total + gram[upper].sum(), pairs + len(upper[0])
    assert pairs > 200_000  # above the old subsampling threshold
    assert tolerance(X, labels) == pytest.approx(total / pairs, rel=1e-9)
    unlabelled = np.where(np.arange(len(labels)) % 2 == 0, labels, -1)
    assert 0 < tolerance(X, unlabelled) < 1
    with pytest.raises(ValueError, match="labels: tolerance needs a class"):
        tolerance(X[:3], np.array([0, 1, 2]))
