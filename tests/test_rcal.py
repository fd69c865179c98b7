"""RCAL (issue 14): the sampler draws from the recovered Gaussians, tail classes borrow
covariance from their nearest head classes, the LOF drops planted mislabels, and the head beats
its plain base on a noisy long tail; saved and loaded through the nested-head format."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.heads import RCAL, create_head
from headstart.persistence import load_model, save_model


def test_sampled_features_follow_the_class_gaussian_and_borrowed_covariance():
    rng = np.random.default_rng(0)
    d = 4
    head_scale = np.array([3.0, 1.0, 0.5, 0.2])
    X = np.vstack(
        [
            rng.normal(size=(2000, d)) * head_scale,  # head class 0: anisotropic
            rng.normal(size=(2000, d)) * head_scale[::-1] + 20,  # head class 1, far away
            rng.normal(size=(8, d)) * 0.1 + 1.0,  # tail class 2, near class 0
        ]
    )
    y = np.r_[np.zeros(2000, int), np.ones(2000, int), np.full(8, 2)]
    head = RCAL(base="gda", k=1, alpha=0.0, seed=1)
    head.classes_ = np.arange(3)
    sampled, labels = head._sampled(X, y)
    assert np.bincount(labels, minlength=3).tolist() == [0, 0, 1992]  # topped up to 2000
    draws = sampled[labels == 2]
    np.testing.assert_allclose(draws.mean(0), X[y == 2].mean(0), atol=0.15)
    # expected covariance: the mean of the tail's own and its nearest head class's (class 0)
    expected = (np.cov(X[y == 2].T, bias=True) + np.cov(X[y == 0].T, bias=True)) / 2
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.4)


def test_alpha_adds_variance_relative_to_the_mean_variance():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 3))
    y = np.r_[np.zeros(500, int), np.ones(100, int)]
    head = RCAL(base="gda", k=0, alpha=1.0, seed=2)
    head.classes_ = np.arange(2)
    draws = head._sampled(X, y)[0]
    # own variance ≈ 1 per dimension plus alpha × mean variance ≈ 1
    np.testing.assert_allclose(draws.var(0), 2.0, rtol=0.15)


def _noisy_long_tail(seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 20)) * 1.2
    counts = [400, 150, 50, 15, 6]
    truth = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    X = centres[truth] + rng.normal(size=(len(truth), 20))
    noisy = truth.copy()
    flipped = rng.choice(len(truth), len(truth) // 5, replace=False)
    noisy[flipped] = (truth[flipped] + rng.integers(1, 5, len(flipped))) % 5
    test_y = np.repeat(np.arange(5), 200)
    test_X = centres[test_y] + rng.normal(size=(1000, 20))
    return X, noisy, flipped, test_X, test_y


def test_lof_drops_mostly_mislabelled_items():
    X, noisy, flipped, _, _ = _noisy_long_tail(2)
    head = RCAL(base="gda").fit(X, noisy)
    dropped = np.flatnonzero(~head.kept_)
    assert np.isin(dropped, flipped).mean() > 0.5  # of what it drops, most were flipped


def test_rcal_beats_its_plain_base_on_a_noisy_long_tail():
    gains = []
    for seed in range(3):
        X, noisy, _, test_X, test_y = _noisy_long_tail(seed + 10)
        plain = create_head("gaussian-nb").fit(X, noisy).score(test_X, test_y)
        rcal = RCAL(base="gaussian-nb").fit(X, noisy).score(test_X, test_y)
        gains.append(rcal - plain)
    assert np.mean(gains) > 0.02, gains


def test_rcal_saves_and_loads_with_its_inner_head(tmp_path):
    X, noisy, _, test_X, _ = _noisy_long_tail(3)
    head = create_head("rcal", base="gda", base_params={"priors": "uniform"}).fit(X, noisy)
    loaded = load_model(save_model(head, tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict_proba(test_X), head.predict_proba(test_X))
    assert (tmp_path / "m" / "part-head_" / "model.json").is_file()


def test_rcal_refuses_itself_as_base_and_bad_settings():
    X, noisy, _, _, _ = _noisy_long_tail(4)
    with pytest.raises(ValueError, match="cannot be RCAL"):
        RCAL(base="rcal").fit(X, noisy)
    with pytest.raises(ValueError, match="n_neighbors must be"):
        RCAL(n_neighbors=0).fit(X, noisy)
