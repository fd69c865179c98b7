"""Augmented support views (issue 10, item 1): stored beside the plain rows, keyed by their
recipe, handed by the protocol to the heads that use them — for their support items only."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from headstart.datasets import Dataset
from headstart.embedding import embed_dataset, store_key
from headstart.encoders import create_encoder
from headstart.encoders.views import ImageViews, ViewRecipe, random_resized_box
from headstart.exceptions import DataError, StoreError
from headstart.heads import LinearProbe, create_head
from headstart.heads.tags import HeadTags
from headstart.heads.views import fit_with_views
from headstart.protocol import evaluate_few_shot
from headstart.store import Store
from headstart.workflow import build_model, run_protocol


@pytest.fixture(scope="module")
def split_digits(digits: Dataset) -> Dataset:
    """40 digits, the last 10 of them the test split."""
    small = digits.take(40, seed=1)
    split = np.array(["train"] * 30 + ["test"] * 10, dtype=object)
    return Dataset(
        "digits-split", small.items, small.labels, small.class_names, small.ids, split=split
    )


@pytest.fixture(scope="module")
def views_store(split_digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("views") / "store"
    encoder = create_encoder("raw-pixels", size=16)
    embed_dataset(split_digits, encoder, out, views=ViewRecipe(4, seed=3), progress=False)
    return Store(out)


def test_random_resized_box_stays_in_its_ranges():
    """Every box lies inside the image with area in scale·W·H and aspect in `ratio` (up to
    pixel rounding); when no draw fits, the centre crop with its aspect clamped."""
    rng = np.random.default_rng(0)
    scale, ratio = (0.5, 1.0), (3 / 4, 4 / 3)
    for width, height in [(64, 48), (20, 200), (31, 31)]:
        for _ in range(200):
            left, top, right, bottom = random_resized_box(width, height, rng, scale, ratio)
            w, h = right - left, bottom - top
            assert 0 <= left < right <= width and 0 <= top < bottom <= height
            if (width, height) != (20, 200):
                assert 0.5 * width * height * 0.9 <= w * h <= width * height
                assert 0.75 * 0.9 <= w / h <= 4 / 3 * 1.1
    # a 1-pixel-tall strip: no draw of aspect ≤ 4/3 fits, the fallback clamps to 4/3
    assert random_resized_box(100, 1, rng, scale, ratio) == (49, 0, 50, 1)
    with pytest.raises(ValueError, match="at least 2"):
        ViewRecipe(1)
    with pytest.raises(ValueError, match="crop scale"):
        ViewRecipe(3, scale=(0.0, 1.0))


def test_views_are_seeded_per_item(split_digits):
    """The same item gets the same views in any batch, thread or resumed run; view 0 is the
    plain preprocessing."""
    card = create_encoder("raw-pixels", size=16).card
    views = ImageViews(card, ViewRecipe(5, seed=7))
    item = split_digits.items[3]
    first, again = views((item, 3, 5)), views((item, 3, 5))
    assert len(first) == 5 and all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    np.testing.assert_array_equal(first[0], views.plain(item))
    assert not all(np.array_equal(first[0], v) for v in first[1:])
    other_seed = ImageViews(card, ViewRecipe(5, seed=8))((item, 3, 5))
    assert not all(np.array_equal(a, b) for a, b in zip(first[1:], other_seed[1:], strict=True))
    assert len(views((item, 3, 1))) == 1  # a test item: the plain image only


def test_views_are_extra_rows_tied_to_their_items(views_store, split_digits, tmp_path):
    """Views live in their own Parquet files next to the shards; train items have 4 views,
    test items none; the recipe is in the manifest and the cache key."""
    store = views_store
    assert store.n_views == 4 and store.manifest.views["seed"] == 3
    assert len(store) == 40 and store.info()["view_rows"] == 30 * 3
    train = np.flatnonzero(store.split.astype(str) == "train")
    views = store.views(train)
    assert views.shape == (30, 4, 256)
    np.testing.assert_array_equal(views[:, 0], store.vectors()[train])
    assert np.abs(views[:, 1:] - views[:, :1]).mean() > 0.01  # augmented views differ
    test = np.flatnonzero(store.split.astype(str) == "test")
    with pytest.raises(StoreError, match="no augmented views; only non-test items"):
        store.views(test[:1])
    assert store.verify() == []
    encoder = create_encoder("raw-pixels", size=16)
    keys = {
        store_key(split_digits, encoder),
        store_key(split_digits, encoder, ViewRecipe(4, seed=3)),
        store_key(split_digits, encoder, ViewRecipe(4, seed=4)),
        store_key(split_digits, encoder, ViewRecipe(5, seed=3)),
    }
    assert len(keys) == 4 and store.key == store_key(split_digits, encoder, ViewRecipe(4, 3))
    # embedding again elsewhere in shards of 7 items gives the very same views
    options = {"views": ViewRecipe(4, 3), "shard_size": 7, "progress": False}
    again = embed_dataset(split_digits, encoder, tmp_path / "again", **options).store
    np.testing.assert_array_equal(again.views(train), views)
    assert embed_dataset(split_digits, encoder, tmp_path / "again", **options).cache_hit


def test_a_tampered_views_file_is_redone_on_resume(split_digits, tmp_path):
    encoder = create_encoder("raw-pixels", size=16)
    out = tmp_path / "store"
    first = embed_dataset(split_digits, encoder, out, views=ViewRecipe(3), progress=False).store
    expected = first.views(np.arange(30))
    shard = first.manifest.shards[0]
    (out / shard.views_file).write_bytes(b"garbage")
    assert first.verify() == [f"{shard.views_file}: checksum mismatch"]
    first.manifest.complete = False
    first.manifest.write(out)
    redone = embed_dataset(split_digits, encoder, out, views=ViewRecipe(3), progress=False)
    assert redone.embedded == 40 and redone.store.verify() == []
    np.testing.assert_array_equal(redone.store.views(np.arange(30)), expected)


def test_views_on_text_items_are_a_clear_error(tmp_path):
    texts = Dataset("notes", ["a cat", "a dog"], [0, 1], ["cat", "dog"], ["n1", "n2"], "text")
    with pytest.raises(DataError, match="--views needs an image dataset; 'notes' holds text"):
        embed_dataset(texts, create_encoder("minilm"), tmp_path / "s", views=ViewRecipe(3))
    assert not (tmp_path / "s").exists()  # nothing written


class ViewSpy(ClassifierMixin, BaseEstimator):
    """Records the rows and views it is fitted on; predicts the first class."""

    fits: ClassVar[list] = []

    def __headstart_tags__(self):
        return HeadTags(views=True)

    def fit(self, X, y, views=None):
        ViewSpy.fits.append((X.copy(), None if views is None else views.copy()))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile(np.eye(len(self.classes_))[0], (len(X), 1))


def test_protocol_hands_heads_their_support_items_views_only():
    """Each fit gets exactly the views of its sampled rows; a head that cannot use views
    gets the plain rows and gives the same results as without views; the provenance says
    which heads used them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = np.repeat(np.arange(3), 20)
    views = np.stack([X + 0.1 * rng.normal(size=X.shape) * v for v in range(3)], axis=1)
    ViewSpy.fits = []
    heads = {"spy": ViewSpy(), "probe": LinearProbe(Cs=(1.0,))}
    results = evaluate_few_shot(X, y, X[:9], y[:9], heads, shots=(2,), seeds=3, views_train=views)
    assert len(ViewSpy.fits) == 3
    for rows, seen in ViewSpy.fits:
        index = [int(np.flatnonzero((row == X).all(axis=1))[0]) for row in rows]
        np.testing.assert_array_equal(seen, views[index])
    assert results.provenance["views"] == 3
    assert results.provenance["heads_using_views"] == ["spy"]
    plain = evaluate_few_shot(X, y, X[:9], y[:9], {"probe": heads["probe"]}, (2,), 3)
    assert [r["value"] for r in plain.rows if r["metric"] != "fit_seconds"] == [
        r["value"] for r in results.rows if r["head"] == "probe" and r["metric"] != "fit_seconds"
    ]
    with pytest.raises(ValueError, match="views_train has shape"):
        evaluate_few_shot(X, y, X, y, heads, (2,), 1, views_train=views[:10])


def test_a_head_that_cannot_use_views_refuses_them():
    X, y = np.eye(4), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="LinearProbe cannot use augmented views"):
        LinearProbe().fit(X, y, views=X[:, None, :])
    with pytest.raises(ValueError, match=r"views must have shape \(n_rows, n_views"):
        create_head("gda").fit(X, y, views=X[:3, None, :])


def test_views_pass_through_a_pipelines_transforms():
    """Behind `center`, GDA's means come from the centred views, not the raw ones."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(12, 3)) + 5.0
    y = np.repeat([0, 1], 6)
    views = X[:, None, :] + rng.normal(size=(12, 4, 3)) * 0.3
    model = fit_with_views(build_model("gda", transforms=("center",)), X, y, views)
    centred = views - X.mean(axis=0)
    expected = [centred[y == k].reshape(-1, 3).mean(axis=0) for k in (0, 1)]
    np.testing.assert_allclose(model[-1].means_, expected, atol=1e-10)


def test_evaluate_store_uses_the_stored_views(views_store, tmp_path):
    from headstart import api

    results = run_protocol(
        "few-shot", views_store.root, heads=["gda", "prototype"], shots=[2], seeds=2, progress=False
    )
    assert results.provenance["views"] == 4
    assert results.provenance["heads_using_views"] == ["gda"]
    assert math.isfinite(results.summary()[0]["mean"])
    results.save(tmp_path / "results")
    page = api.report(tmp_path / "results", tmp_path / "report.html").read_text()
    assert "4 views per support item (plain + augmented) used by: gda" in page
