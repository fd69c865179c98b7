"""Attributions of head ∘ encoder (issue 28): the differentiable model scores as the fitted
model does; captum's gradients, input × gradient, integrated gradients and SmoothGrad against
closed forms (a linear model on raw pixels) and torch autograd (a CNN encoder); `explain`
writes heat maps and refuses text and vector-only models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.pipeline import make_pipeline

from headstart import api
from headstart.attributions import attribute, differentiable_model, keep_mask, saliency
from headstart.attributions.differentiable import prepared_pixels
from headstart.encoders import create_encoder
from headstart.exceptions import DataError, UnknownNameError
from headstart.heads import MLP, LinearProbe, Prototype
from headstart.heads.transforms import L2Normalize
from headstart.store import write_vectors
from headstart.workflow.models import fit_store


@pytest.fixture(scope="module")
def raw(small_digits):
    encoder = create_encoder("raw-pixels")
    X = encoder.encode(list(small_digits.items))
    model = LinearProbe(C=1.0).fit(X, small_digits.labels)
    pixels = prepared_pixels(encoder, list(small_digits.items[:5]))
    return encoder, model, pixels, X


def test_a_linear_head_on_raw_pixels_has_closed_form_attributions(raw):
    encoder, model, pixels, X = raw
    network = differentiable_model(encoder, model)
    with torch.no_grad():
        np.testing.assert_allclose(network(pixels).numpy(), model.scores(X[:5]), atol=1e-4)
    target = np.array([0, 1, 2, 3, 4])
    expected = np.stack([model.coef_[t].reshape(1, 28, 28) / 255.0 for t in target])
    gradient = attribute(network, pixels, target, "gradient")
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-9)
    x = pixels.numpy()
    np.testing.assert_allclose(
        attribute(network, pixels, target, "input-x-gradient"), x * expected, rtol=1e-4, atol=1e-7
    )
    # a linear score: integrated gradients from black is exactly input × gradient
    np.testing.assert_allclose(
        attribute(network, pixels, target, "integrated-gradients"),
        x * expected,
        rtol=1e-4,
        atol=1e-6,
    )
    # and noise leaves a constant gradient unchanged
    np.testing.assert_allclose(
        attribute(network, pixels, target, "smoothgrad"), expected, rtol=1e-4, atol=1e-9
    )


def test_an_mlp_heads_gradient_is_its_closed_form(raw, small_digits):
    encoder, _, pixels, X = raw
    head = MLP(hidden=8, epochs=30).fit(X, small_digits.labels)
    network = differentiable_model(encoder, head)
    with torch.no_grad():
        np.testing.assert_allclose(network(pixels).numpy(), head.scores(X[:5]), atol=1e-4)
    target = np.arange(5)
    active = (X[:5] @ head.W1_.T + head.b1_) > 0  # ReLU's derivative per hidden unit
    expected = np.stack(
        [(head.W2_[t] * active[i]) @ head.W1_ / 255.0 for i, t in enumerate(target)]
    ).reshape(5, 1, 28, 28)
    np.testing.assert_allclose(
        attribute(network, pixels, target, "gradient"), expected, rtol=1e-3, atol=1e-8
    )


def test_gradients_through_a_cnn_encoder_equal_torch_autograd(small_digits, lite0):
    X = lite0.encode(list(small_digits.items))
    model = make_pipeline(L2Normalize(), LinearProbe(C=1.0)).fit(X, small_digits.labels)
    network = differentiable_model(lite0, model)
    pixels = prepared_pixels(lite0, list(small_digits.items[:2]))
    with torch.no_grad():
        scores = network(pixels).numpy()
    reference = model[-1].scores(model[:-1].transform(X[:2]))
    np.testing.assert_allclose(scores, reference, atol=1e-4)
    target = scores.argmax(axis=1)
    x = pixels.clone().requires_grad_(True)  # by hand: normalise, forward, L2, linear
    z = lite0.forward((x - lite0._mean) / lite0._std)
    z = z / z.norm(dim=1, keepdim=True)
    logits = z @ torch.as_tensor(model[-1].coef_, dtype=torch.float32).T
    logits[np.arange(2), target].sum().backward()
    ours = attribute(network, pixels, target, "gradient")
    np.testing.assert_allclose(ours, x.grad.numpy(), rtol=1e-3, atol=1e-7)
    assert saliency(ours).shape == (2, 224, 224)


def test_keep_masks_take_the_top_or_bottom_share_of_each_image():
    maps = np.arange(2 * 10).reshape(2, 2, 5).astype(float)
    maps[1] = -maps[1]
    top, bottom = keep_mask(maps, 0.3, True), keep_mask(maps, 0.3, False)
    assert top.sum(axis=(1, 2)).tolist() == [3, 3] and not (top & bottom).any()
    assert top[0].reshape(-1)[-3:].all() and top[1].reshape(-1)[:3].all()
    with pytest.raises(DataError, match="between 0 and 1"):
        keep_mask(maps, 1.5, True)


def test_other_heads_and_encoders_are_refused(raw, small_digits):
    encoder, _, _, X = raw
    with pytest.raises(DataError, match="linear heads"):
        differentiable_model(encoder, Prototype().fit(X, small_digits.labels))
    with pytest.raises(DataError, match="on images"):
        differentiable_model(create_encoder("tfidf"), LinearProbe())


def test_explain_writes_heat_maps_and_refuses_text_and_vector_models(tmp_path, small_digits):
    store = api.embed(small_digits, "raw-pixels", tmp_path / "s", progress=False).store
    fit_store(store, "linear-probe", tmp_path / "m")
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(small_digits.items[i] * 16).save(folder / f"d{i}.png")
    out = api.explain(tmp_path / "m", [folder], tmp_path / "x", methods=["gradient", "smoothgrad"])
    record = json.loads((out / "explanations.json").read_text())
    assert len(record["images"]) == 2 and (out / "index.html").is_file()
    assert all((out / f).is_file() for r in record["images"] for f in r["maps"].values())
    results = api.run_protocol(
        "few-shot",
        store.root,
        tmp_path / "r",
        progress=False,
        heads=["prototype"],
        shots=[2],
        seeds=2,
    )
    page = api.report(tmp_path / "r", tmp_path / "r.html", explanations=out).read_text()
    assert page.count("class='figure heat'") == 4 and "What the model looks at" in page
    assert results.rows
    with pytest.raises(UnknownNameError, match="Did you mean 'gradient'"):
        api.explain(tmp_path / "m", [folder], tmp_path / "y", methods=["gradients"])
    vectors = write_vectors(tmp_path / "v", np.eye(4)[np.arange(40) % 4], labels=np.arange(40) % 2)
    fit_store(vectors, "linear-probe", tmp_path / "vm")
    with pytest.raises(DataError, match="on images"):
        api.explain(tmp_path / "vm", [folder], tmp_path / "z")
    text = api.embed("20newsgroups", "tfidf", tmp_path / "t", limit=40, progress=False).store
    fit_store(text, "linear-probe", tmp_path / "tm")
    with pytest.raises(DataError, match="fitted on text features"):
        api.explain(tmp_path / "tm", [folder], tmp_path / "w")
    with pytest.raises(DataError, match="does not exist"):
        api.explain(tmp_path / "m", [tmp_path / "nowhere"], tmp_path / "q")
