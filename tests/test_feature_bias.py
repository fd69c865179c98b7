"""Feature bias (issue 14, Lampinen et al.): variance explained against its direct formula,
and the paper's dissociation — an attribute decodable perfectly while taking almost no
variance."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.exceptions import DataError
from headstart.quality.feature_bias import decodability, feature_bias, variance_explained


def test_variance_explained_by_a_category_is_the_between_group_share():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 4, 300)
    X = rng.normal(size=(300, 6)) + rng.normal(size=(4, 6))[groups] * 2
    centred = X - X.mean(0)
    between = sum(
        (groups == g).sum() * ((X[groups == g].mean(0) - X.mean(0)) ** 2).sum() for g in range(4)
    )
    assert variance_explained(X, groups) == pytest.approx(between / (centred**2).sum())


def test_variance_explained_by_a_number_is_the_summed_squared_covariance():
    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    X = np.outer(a, [1.0, -2.0, 0.0]) + rng.normal(size=(500, 3))
    c = X - X.mean(0)
    da = a - a.mean()
    explained = ((c.T @ da) ** 2).sum() / (da @ da)
    assert variance_explained(X, a) == pytest.approx(explained / (c**2).sum())


def test_a_weak_direction_is_decodable_while_explaining_little_variance():
    """The paper's dissociation: a binary feature written into one low-variance direction
    is read out perfectly but explains < 1% of the variance; a strong one explains most."""
    rng = np.random.default_rng(2)
    hard = rng.integers(0, 2, 600)
    easy = rng.integers(0, 2, 600)
    X = rng.normal(size=(600, 20)) * 0.5
    X[:, 0] += (easy * 2 - 1) * 5.0  # strongly represented
    X[:, 1] = (hard * 2 - 1) * 0.1 + rng.normal(size=600) * 0.01  # weak but clean
    rows = {r["attribute"]: r for r in feature_bias(X, {"easy": easy, "hard": hard})}
    assert rows["hard"]["decodability"] > 0.97 and rows["easy"]["decodability"] > 0.97
    assert rows["hard"]["variance_explained"] < 0.01 < 0.5 < rows["easy"]["variance_explained"]
    assert rows["hard"]["chance"] == 0.5 and rows["easy"]["kind"] == "categorical"


def test_numeric_attributes_decode_as_r2():
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, 400)
    X = np.c_[a * 3, rng.normal(size=(400, 4))]
    assert decodability(X, a) > 0.95
    assert decodability(rng.normal(size=(400, 5)), a) < 0.1


def test_attributes_of_the_wrong_length_or_degenerate_are_refused():
    X = np.random.default_rng(4).normal(size=(50, 3))
    with pytest.raises(DataError, match="'colour' has 49 values for 50 items"):
        feature_bias(X, {"colour": np.zeros(49)})
    with pytest.raises(DataError, match="'site' has a single value"):
        feature_bias(X, {"site": np.array(["a"] * 50)})
    with pytest.raises(DataError, match="held by one item"):
        feature_bias(X, {"site": np.array(["a"] * 49 + ["b"])})
