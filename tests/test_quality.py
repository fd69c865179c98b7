"""Label-error detection (issue 14): confident learning against a case worked by hand, and on
planted label flips with cross-fitted probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.exceptions import DataError, UnknownNameError
from headstart.heads import create_head
from headstart.quality import (
    confident_joint,
    confident_thresholds,
    find_label_issues,
    knn_disagreement,
    out_of_fold_proba,
    small_loss_issues,
)


def test_the_confident_joint_of_a_case_worked_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])
    # t0 = (0.9 + 0.8 + 0.3) / 3, t1 = (0.8 + 0.9 + 0.4) / 3 = 0.7
    np.testing.assert_allclose(confident_thresholds(labels, proba), [2 / 3, 0.7])
    # rows 0, 1 → (0, 0); row 2 reaches t1 → (0, 1); rows 3, 4 → (1, 1); row 5 passes neither
    assert confident_joint(labels, proba, calibrate=False).tolist() == [[2, 1], [0, 2]]
    # calibrated: row 1 scaled to its 3 labels → [0, 3]; the total is already n = 6
    assert confident_joint(labels, proba).tolist() == [[2, 1], [0, 3]]
    # one item labelled 0 to prune toward class 1: the largest margin p1 − p0 is row 2
    assert find_label_issues(labels, proba).tolist() == [False, False, True, False, False, False]


def _planted(seed: int = 0):
    """240 items of 4 Gaussian classes; 24 labels flipped to another class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 10)) * 3
    truth = np.repeat(np.arange(4), 60)
    X = centres[truth] + rng.normal(size=(240, 10))
    noisy = truth.copy()
    flipped = rng.choice(240, 24, replace=False)
    noisy[flipped] = (truth[flipped] + rng.integers(1, 4, 24)) % 4
    return X, noisy, flipped


def _precision_recall(found: np.ndarray, flipped: np.ndarray) -> tuple[float, float]:
    return found[flipped].sum() / max(found.sum(), 1), found[flipped].mean()


@pytest.mark.parametrize("detector", ["confident-learning", "small-loss", "knn"])
def test_planted_label_flips_are_found(detector):
    X, noisy, flipped = _planted()
    if detector == "knn":
        found = knn_disagreement(X, noisy, k=10)[1]
    else:
        proba = out_of_fold_proba(create_head("gda"), X, noisy)
        detect = find_label_issues if detector == "confident-learning" else small_loss_issues
        found = detect(noisy, proba)
    precision, recall = _precision_recall(found, flipped)
    assert precision > 0.8 and recall > 0.8, (precision, recall)


def test_knn_disagreement_equals_a_brute_force_count():
    X, noisy, _ = _planted(1)
    score, flag, majority = knn_disagreement(X, noisy, k=5)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    for i in range(0, 240, 17):
        near = np.argsort(-similarity[i])[:5]
        assert score[i] == np.mean(noisy[near] != noisy[i])
        assert majority[i] == np.bincount(noisy[near], minlength=4).argmax()
        assert flag[i] == (majority[i] != noisy[i] and score[i] > 0.5)


def test_cross_fitting_needs_as_many_items_per_class_as_folds():
    X, _, _ = _planted()
    short = np.r_[np.zeros(60, int), np.ones(60, int), np.full(60, 2), [3, 3, 3]]
    with pytest.raises(DataError, match=r"classes \[3\] have fewer items than the 5 folds"):
        out_of_fold_proba(create_head("gda"), X[:183], short)


def test_planted_duplicates_are_grouped_and_split_leaks_reported(tmp_path):
    """Exact copies, a re-encoded JPEG and a resized copy of one image are one group;
    distinct images form none; a group across train and test is a leak."""
    from PIL import Image

    from headstart import api
    from headstart.quality import exact_groups, near_groups, split_leaks

    rng = np.random.default_rng(2)
    for split in ("train", "test"):
        for label in ("a", "b"):
            (tmp_path / "img" / split / label).mkdir(parents=True)
    images = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(12)]
    for i, image in enumerate(images):
        image.save(tmp_path / "img" / ("train" if i < 8 else "test") / "ab"[i % 2] / f"{i}.png")
    original = images[0].resize((128, 128), Image.BICUBIC)  # smooth enough to survive JPEG
    original.save(tmp_path / "img" / "train" / "a" / "orig.png")
    original.save(tmp_path / "img" / "train" / "a" / "copy.png")
    original.save(tmp_path / "img" / "test" / "a" / "reencoded.jpg", quality=85)
    original.resize((64, 64), Image.BICUBIC).save(tmp_path / "img" / "test" / "a" / "small.png")
    store = api.embed(str(tmp_path / "img"), "raw-pixels", tmp_path / "s", progress=False).store
    ids = store.ids
    X = store.vectors()
    planted = {
        ids.index(f"{s}/a/{n}")
        for s, n in [
            ("train", "orig.png"),
            ("train", "copy.png"),
            ("test", "reencoded.jpg"),
            ("test", "small.png"),
            ("train", "0.png"),  # the source image itself, at 32 × 32
        ]
    }
    assert [set(g) for g in exact_groups(X)] == [
        {ids.index("train/a/orig.png"), ids.index("train/a/copy.png")}
    ]
    groups = near_groups(X, 0.97)
    assert [set(g) for g in groups] == [planted]  # no false group among distinct images
    assert split_leaks(groups, store.split) == groups  # train and test both hold the image


def test_items_far_from_their_class_are_outliers():
    from headstart.quality import class_outliers

    X = _planted(3)[0].copy()
    labels = np.repeat(np.arange(4), 60)  # the true classes
    rng = np.random.default_rng(4)
    strays = np.array([5, 70, 150])
    X[strays] = rng.normal(size=(3, 10)) * 3 - 20  # nowhere near any class
    score, flag = class_outliers(X, labels)
    assert set(np.flatnonzero(flag)) == set(strays.tolist())
    assert np.all(score[strays] > 3.5)
    unlabelled = labels.copy()
    unlabelled[:10] = -1
    assert np.isnan(class_outliers(X, unlabelled)[0][:10]).all()


def test_lsa_mixture_posterior_matches_an_independent_em():
    """The loss detector: a 2-component 1-D mixture on min–max scaled losses; the posterior
    of the high-mean component, recomputed from the fitted parameters by Bayes' rule."""
    from sklearn.mixture import GaussianMixture

    from headstart.quality.small_loss import noisy_posterior

    rng = np.random.default_rng(5)
    losses = np.r_[rng.gamma(2, 0.05, 300), rng.normal(3, 0.4, 60)]
    posterior = noisy_posterior(losses)
    scaled = (losses - losses.min()) / (losses.max() - losses.min())
    mixture = GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=0)
    mixture.fit(scaled[:, None])
    mean, var, w = mixture.means_[:, 0], mixture.covariances_[:, 0, 0], mixture.weights_
    density = w * np.exp(-((scaled[:, None] - mean) ** 2) / (2 * var)) / np.sqrt(var)
    high = int(np.argmax(mean))
    np.testing.assert_allclose(posterior, density[:, high] / density.sum(1), atol=1e-9)
    assert (posterior[300:] > 0.95).all() and (posterior[:300] < 0.5).mean() > 0.95


def _strays(seed: int):
    """240 items of 4 classes with their true labels, except 30 items from a region no class
    occupies, labelled at random: the web noise LSA was built for."""
    X = _planted(seed)[0]
    labels = np.repeat(np.arange(4), 60)
    rng = np.random.default_rng(seed + 1)
    strays = rng.choice(240, 30, replace=False)
    X[strays] = rng.normal(size=(30, 10)) + 8.0
    labels[strays] = rng.integers(0, 4, 30)
    return X, labels, strays


def test_registered_lsa_follows_the_official_steps_and_the_per_label_variant_differs():
    """`lsa` against the official `detect_noise`, step by step (warm-up 0, `--alternate-ep
    linear loss`, thresh 0.95): trusted sets from the loss mixture, then one scaler and one
    unpenalised balanced logistic regression fitted on every item and predicting those items.
    Would have caught `lsa` running the per-label, cross-fitted separator (ours) instead."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from headstart.quality import run_detector
    from headstart.quality.small_loss import noisy_posterior

    X, labels, strays = _strays(6)
    model = create_head("gda")
    rows, clean = np.arange(len(labels)), np.ones(len(labels), dtype=bool)
    for step in ("linear", "loss", "linear"):
        proba = out_of_fold_proba(model, X, labels, 5, 0, train_mask=clean)
        posterior = noisy_posterior(-np.log(np.clip(proba[rows, labels], 1e-12, 1)))
        trusted_noisy = posterior > 0.95
        score, flag = posterior, trusted_noisy
        if step == "linear":
            features = StandardScaler().fit_transform(X)
            separator = LogisticRegression(C=np.inf, class_weight="balanced", max_iter=1000)
            separator.fit(features, trusted_noisy)
            score, flag = separator.predict_proba(features)[:, 1], separator.predict(features)
        clean = ~flag
    proba = out_of_fold_proba(model, X, labels)
    found = run_detector("lsa", X, labels, proba, model)
    np.testing.assert_array_equal(found.flag, flag)
    np.testing.assert_allclose(found.score, score, atol=1e-9)
    precision, recall = _precision_recall(found.flag, strays)
    assert precision > 0.8 and recall > 0.8, (precision, recall)
    assert np.all((found.score >= 0) & (found.score <= 1))
    variant = run_detector("lsa-per-label", X, labels, proba, model)
    assert np.abs(variant.score - found.score).max() > 0.1


def test_lsa_per_label_finds_in_distribution_flips_the_global_hyperplane_cannot():
    from headstart.quality import run_detector
    from headstart.quality.linear_separation import linear_separation_issues

    X, noisy, flipped = _planted(8)
    model = create_head("gda")
    proba = out_of_fold_proba(model, X, noisy)
    per_label = run_detector("lsa-per-label", X, noisy, proba, model).flag
    precision, recall = _precision_recall(per_label, flipped)
    assert precision > 0.8 and recall > 0.8, (precision, recall)
    precision, _ = _precision_recall(run_detector("lsa", X, noisy, proba, model).flag, flipped)
    assert precision < 0.3, precision  # one hyperplane cannot cut flips out of every class
    with pytest.raises(ValueError, match="steps must be"):
        linear_separation_issues(X, noisy, create_head("gda"), steps=("linear", "knn"))


def test_the_ivf_index_finds_the_same_planted_near_duplicates_as_the_exact_search():
    pytest.importorskip("faiss")
    from headstart.quality import near_groups

    rng = np.random.default_rng(9)
    X = rng.normal(size=(6000, 32)).astype(np.float32)
    copies = rng.choice(6000, 25, replace=False)
    X[:25] = X[copies] + rng.normal(size=(25, 32)).astype(np.float32) * 0.02
    exact = near_groups(X, 0.97, index="exact")
    assert sorted(map(sorted, exact)) == sorted(sorted([i, int(c)]) for i, c in enumerate(copies))
    assert near_groups(X, 0.97, index="ivf", lists=32, probes=8) == exact
    with pytest.raises(ValueError, match="index must be one of"):
        near_groups(X, 0.97, index="hnsw")


@pytest.mark.parametrize("name", ["confident-learning", "small-loss", "knn", "lsa-per-label"])
def test_every_registered_detector_finds_planted_flips_and_suggests_the_true_class(name):
    from headstart.quality import run_detector

    X, noisy, flipped = _planted(11)
    truth = noisy.copy()
    truth[flipped] = np.repeat(np.arange(4), 60)[flipped]
    model = create_head("gda")
    found = run_detector(name, X, noisy, out_of_fold_proba(model, X, noisy), model)
    assert found.score.shape == found.flag.shape == found.suggestion.shape == (240,)
    precision, recall = _precision_recall(found.flag, flipped)
    assert precision > 0.7 and recall > 0.7, (precision, recall)
    caught = np.intersect1d(np.flatnonzero(found.flag), flipped)
    assert (found.suggestion[caught] == truth[caught]).mean() > 0.9
    with pytest.raises(UnknownNameError, match="unknown detector"):
        run_detector("cleanlab", X, noisy, None, model)


def test_the_projected_screen_finds_exactly_the_pairs_of_the_full_search():
    """The principal-direction screen is lossless: same pairs as the full-dimension search on
    clustered data with planted near copies (and on the IVF-free default for large stores)."""
    from headstart.vector_index import nearest_neighbours, pairs_at_least

    rng = np.random.default_rng(12)
    X = rng.normal(size=(8, 64))[rng.integers(0, 8, 3000)] + rng.normal(size=(3000, 64)) * 0.6
    X[:40] = X[40:80] + rng.normal(size=(40, 64)) * 0.05
    full = set(pairs_at_least(X, 0.95))
    assert len(full) >= 40 and full == set(pairs_at_least(X, 0.95, dims=8))
    assert all(i < j for i, j in full)
    exact = nearest_neighbours(X, 5)
    approximate = nearest_neighbours(X, 5, dims=48)  # isotropic noise: most directions matter
    recall = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approximate, exact, strict=True)])
    assert recall > 0.9 and (exact != np.arange(3000)[:, None]).all()
