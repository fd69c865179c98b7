"""BlockMNIST and DiffROAR (issue 28): the dataset as the paper builds it (a digit block and
the same null block, in random order), and DiffROAR(k) against a computation by hand for a
linear head on raw pixels, whose input gradient is its predicted class's weights."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.attributions.diffroar import diffroar, prepared
from headstart.datasets import load_dataset
from headstart.datasets.block_mnist import null_block
from headstart.encoders import create_encoder
from headstart.heads import LinearProbe


@pytest.fixture(scope="module")
def blocks():
    return load_dataset("block-mnist").take(160)


def test_block_mnist_stacks_a_digit_and_the_same_null_block(blocks):
    images = np.asarray(blocks.items)
    assert images.shape[1:] == (56, 56)
    top = blocks.groups == "digit-top"
    assert 0.3 < top.mean() < 0.7  # order at random
    null = np.where(top[:, None, None], images[:, 28:, 14:42], images[:, :28, 14:42])
    assert (null == null_block()).all()  # identical in every image: no class information
    digit = np.where(top[:, None, None], images[:, :28, 14:42], images[:, 28:, 14:42])
    assert (digit.reshape(len(digit), -1).max(axis=1) > 100).all()
    assert (images[:, :, :14] == 0).all() and set(blocks.split) == {"train", "test"}


def test_diffroar_of_input_gradients_equals_a_computation_by_hand(blocks):
    encoder = create_encoder("raw-pixels", size=56)
    arrays = prepared(encoder, list(blocks.items))
    train, test = blocks.split == "train", blocks.split == "test"
    y = blocks.labels
    found = diffroar(
        encoder,
        lambda: LinearProbe(C=1.0),
        (arrays[train], y[train]),
        (arrays[test], y[test]),
        "gradient",
        ks=(10,),
    )

    def vectors(a):
        return a.reshape(len(a), -1).astype(np.float32) / 255.0

    model = LinearProbe(C=1.0).fit(vectors(arrays[train]), y[train])
    fill = np.round(arrays[train].mean())
    keep = round(0.1 * 56 * 56)

    def kept(a, top):
        predicted = np.searchsorted(model.classes_, model.predict(vectors(a)))
        weight = np.abs(model.coef_[predicted])  # |∂score/∂pixel| · 255, per image
        order = np.argsort(-weight if top else weight, axis=1, kind="stable")[:, :keep]
        mask = np.zeros_like(weight, dtype=bool)
        np.put_along_axis(mask, order, True, axis=1)
        return np.where(mask.reshape(a.shape), a, fill)

    accuracy = {}
    for side, top in (("top", True), ("bottom", False)):
        head = LinearProbe(C=1.0).fit(vectors(kept(arrays[train], top)), y[train])
        accuracy[side] = np.mean(head.predict(vectors(kept(arrays[test], top))) == y[test])
    row = found["rows"][0]
    assert row["top"] == pytest.approx(accuracy["top"]) and row["bottom"] == pytest.approx(
        accuracy["bottom"]
    )
    assert row["diffroar"] == pytest.approx(accuracy["top"] - accuracy["bottom"])
    assert found["test_maps"].shape == (test.sum(), 56, 56)


def test_a_region_limits_the_ranking_and_keeps_the_rest():
    from headstart.attributions.diffroar import _keep

    maps = np.random.default_rng(0).random((3, 8, 8))
    inside = np.zeros((8, 8), dtype=bool)
    inside[:, 2:6] = True
    keep = _keep(maps, inside, 0.25, top=True)
    assert keep[:, ~inside].all() and (keep[:, inside].sum(axis=1) == 8).all()
    for image in range(3):  # the kept inside pixels are the largest inside ones
        values = maps[image][inside]
        assert values[keep[image][inside]].min() >= np.sort(values)[-8]
