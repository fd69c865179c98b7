"""Training-label corruption for the noisy-label protocol (issue 14): exact rates, never a
flip to the item's own class, seeded, and the long-tail profile."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.exceptions import DataError
from headstart.protocol.corruption import corrupt_labels, long_tail


def test_symmetric_noise_flips_exactly_its_share_to_other_classes():
    y = np.repeat(np.arange(5), 40)
    noisy = corrupt_labels(y, "symmetric:0.2", seed=0)
    assert (noisy != y).sum() == 40  # round(0.2 · 200), none "flipped" to itself
    assert len(set(noisy[noisy != y])) > 1
    assert np.array_equal(noisy, corrupt_labels(y, "symmetric:0.2", seed=0))
    assert not np.array_equal(noisy, corrupt_labels(y, "symmetric:0.2", seed=1))


def test_asymmetric_noise_moves_each_class_to_the_next():
    y = np.repeat(np.arange(4), 50)
    noisy = corrupt_labels(y, "asymmetric:0.4", seed=0)
    for c in range(4):
        moved = noisy[(y == c) & (noisy != y)]
        assert len(moved) == 20 and set(moved) == {(c + 1) % 4}


def test_the_long_tail_keeps_an_exponential_profile():
    y = np.repeat(np.arange(5), 100)
    kept = long_tail(y, 100, seed=0)
    counts = np.bincount(y[kept])
    assert counts.tolist() == [100, 32, 10, 3, 1]  # 100 · 100^(−k/4), rounded
    with pytest.raises(DataError, match="symmetric:P or asymmetric:P"):
        corrupt_labels(y, "uniform:0.2", seed=0)
    with pytest.raises(DataError, match="imbalance ratio must be ≥ 1"):
        long_tail(y, 0.5, seed=0)
