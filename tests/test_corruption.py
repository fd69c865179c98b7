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


def _blobs(seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 12)) * 2
    y_train, y_test = np.repeat(np.arange(4), 60), np.repeat(np.arange(4), 40)
    X_train = centres[y_train] + rng.normal(size=(240, 12))
    X_test = centres[y_test] + rng.normal(size=(160, 12))
    return X_train, y_train, X_test, y_test


def test_corrupted_evaluation_touches_the_training_side_only():
    """Noise 0 is the clean grid; 40% noise lowers accuracy; the fits (and the C the linear
    probe chose by inner CV) are the same whatever the test labels are: no leak."""
    from headstart.heads import create_head
    from headstart.protocol import evaluate_few_shot
    from headstart.protocol.corruption import Corruption

    X_train, y_train, X_test, y_test = _blobs()
    heads = {"lp": create_head("linear-probe"), "proto": create_head("prototype")}
    plain = evaluate_few_shot(X_train, y_train, X_test, y_test, heads, [8], seeds=3)
    zero = evaluate_few_shot(
        X_train, y_train, X_test, y_test, heads, [8], 3, corruption=Corruption("symmetric:0")
    )
    assert [r["value"] for r in plain.rows if r["metric"] == "accuracy"] == [
        r["value"] for r in zero.rows if r["metric"] == "accuracy"
    ]
    noisy = Corruption("symmetric:0.6", imbalance=3)
    args = (X_train, y_train, X_test, heads, [8, "all"], 3)
    hurt = evaluate_few_shot(*args[:3], y_test, *args[3:], corruption=noisy)
    mean = {s["head"]: s["mean"] for s in hurt.summary() if s["metric"] == "accuracy"}
    clean = {s["head"]: s["mean"] for s in plain.summary() if s["metric"] == "accuracy"}
    assert mean["lp"] < clean["lp"] and "noise symmetric:0.6 · imbalance 3" in hurt.store
    assert hurt.provenance["training_corruption"]["imbalance"] == 3
    assert len({r["seed"] for r in hurt.rows if r["shots"] == "all"}) == 3  # every seed
    shuffled = np.random.default_rng(1).permutation(y_test)
    other = evaluate_few_shot(*args[:3], shuffled, *args[3:], corruption=noisy)
    assert hurt.chosen == other.chosen


def test_bad_corruption_settings_are_refused():
    from headstart.protocol.corruption import Corruption

    with pytest.raises(DataError, match="expected symmetric:P or asymmetric:P"):
        Corruption("gaussian:0.2")
    with pytest.raises(DataError, match="imbalance ratio must be ≥ 1"):
        Corruption(None, 0.5)
