"""Issue 15: adapters trained on a store, saved, applied to make a new store; bad inputs
refused before any work; test items never seen by the training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart import api
from headstart.adapt.adapter import create_adapter
from headstart.adapt.metrics import separability
from headstart.exceptions import DataError, HeadstartError
from headstart.store import Store, write_vectors


def _store(path, labelled=True, seed=0, dim=12, n=300):
    """Three classes that differ in 2 of `dim` dimensions; the rest is larger noise."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(3), n // 3)
    X = rng.normal(size=(n, dim)) * 2.0
    X[:, :2] += rng.normal(size=(3, 2))[y] * 4
    split = np.where(np.arange(n) < n * 2 // 3, "train", "test")
    names = ["a", "b", "c"]
    labels = [names[c] for c in y] if labelled else None
    return write_vectors(
        path, X, labels=labels, split=split, class_names=names if labelled else None
    )


FAST = api.AdaptSettings(loss="supcon", epochs=15, batch_size=64, lr=3e-3, patience=15)


def test_untrained_adapters_are_the_identity_on_the_sphere():
    x = torch.randn(5, 8)
    for name in ("linear", "residual"):
        out = create_adapter(name, 8)(x)
        torch.testing.assert_close(out, torch.nn.functional.normalize(x, dim=1))


def test_adapt_then_transform_writes_a_new_store_naming_the_adapter(tmp_path):
    store = _store(tmp_path / "s")
    history = api.adapt(store.root, tmp_path / "adapter", FAST, progress=False)
    assert history["positives"] == "labels" and len(history["train"]) >= 1
    new = api.transform(store.root, tmp_path / "adapter", tmp_path / "adapted")
    assert new.key != store.key and "+adapter:" in new.card.name
    assert new.card.extra["base_card_sha256"] == store.card.digest()
    assert new.ids == store.ids and (new.labels == store.labels).all()
    test = np.asarray(store.split) == "test"
    before = separability(store.vectors()[test], store.labels[test])
    after = separability(new.vectors()[test], new.labels[test])
    assert after > 1.5 * before  # the adapter learned the 2 informative dimensions


def test_no_training_step_sees_a_test_item(tmp_path):
    """Test rows' vectors replaced by noise: the trained adapter is bit-identical."""
    store = _store(tmp_path / "s")
    X = store.vectors().copy()
    test = np.asarray(store.split) == "test"
    X[test] = np.random.default_rng(9).normal(size=(test.sum(), X.shape[1]))
    other = write_vectors(
        tmp_path / "t",
        X,
        labels=[store.class_names[c] for c in store.labels],
        ids=store.ids,
        split=store.split,
        class_names=store.class_names,
    )
    api.adapt(store.root, tmp_path / "a1", FAST, progress=False)
    api.adapt(other.root, tmp_path / "a2", FAST, progress=False)
    one = (tmp_path / "a1" / "weights.safetensors").read_bytes()
    assert one == (tmp_path / "a2" / "weights.safetensors").read_bytes()


def test_bad_inputs_are_refused_with_what_is_wrong(tmp_path, monkeypatch):
    store = _store(tmp_path / "s")
    api.adapt(store.root, tmp_path / "adapter", FAST, progress=False)
    wide = _store(tmp_path / "wide", dim=16)
    with pytest.raises(DataError, match="takes 12-d vectors"):
        api.transform(wide.root, tmp_path / "adapter", tmp_path / "x1")
    renamed = write_vectors(tmp_path / "other", store.vectors(), name="elsewhere")
    with pytest.raises(DataError, match="trained on features of"):
        api.transform(renamed.root, tmp_path / "adapter", tmp_path / "x2")
    unlabelled = _store(tmp_path / "u", labelled=False)
    with pytest.raises(DataError, match="'supcon' needs labels"):
        api.adapt(unlabelled.root, tmp_path / "x3", FAST, progress=False)
    big = api.AdaptSettings(batch_size=1000, epochs=1)
    with pytest.raises(DataError, match="batch size 1000 is larger than the"):
        api.adapt(store.root, tmp_path / "x4", big, progress=False)
    with pytest.raises(HeadstartError, match="unknown loss"):
        api.adapt(store.root, tmp_path / "x5", api.AdaptSettings(loss="simclr"), progress=False)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("headstart.adapt.saved.save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        api.adapt(store.root, tmp_path / "x6", FAST, progress=False)
    assert not any((tmp_path / f"x{i}").exists() for i in range(1, 7))  # nothing half-written


def test_an_unlabelled_store_adapts_from_neighbours(tmp_path):
    store = _store(tmp_path / "u", labelled=False)
    settings = api.AdaptSettings(loss="info-nce", epochs=2, batch_size=64)
    history = api.adapt(store.root, tmp_path / "a", settings, progress=False)
    assert history["positives"] == "neighbours"
    assert Store(api.transform(store.root, tmp_path / "a", tmp_path / "n").root).dim == 12


def test_base_to_novel_pairs_adapted_heads_with_their_frozen_selves(tmp_path, monkeypatch):
    """Per seed, the adapter sees base-class training rows only (never a novel-class label or
    a test row); every adapted head has a frozen twin on the same seeds and samples."""
    import headstart.workflow.adaptation as adaptation

    rng = np.random.default_rng(3)
    y = np.tile(np.arange(6), 60)
    X = rng.normal(size=(360, 10)) * 2.0
    X[:, :3] += rng.normal(size=(6, 3))[y] * 4
    split = np.where(np.arange(360) < 240, "train", "test")
    store = write_vectors(tmp_path / "s", X, labels=[f"c{c}" for c in y], split=split)
    seen = []
    original = adaptation.fit_adapter

    def recording(X_rows, labels, settings, *args, **kwargs):
        seen.append((X_rows.copy(), labels.copy()))
        return original(X_rows, labels, settings, *args, **kwargs)

    monkeypatch.setattr(adaptation, "fit_adapter", recording)
    settings = api.AdaptSettings(loss="supcon", epochs=5, batch_size=32)
    results = api.evaluate_adapted(
        store.root, settings, ["prototype"], [1, 5], seeds=3, base_fraction=0.5, progress=False
    )
    train_X = X[:240]
    for seed, (rows, labels) in enumerate(seen):
        base = np.sort(np.random.default_rng(seed).choice(np.arange(6), 3, replace=False))
        allowed = train_X[np.isin(y[:240], base)]
        assert len(rows) == len(allowed) and np.allclose(rows, allowed)  # base train rows only
        assert set(labels.tolist()) == {0, 1, 2}
    paired = results.difference("prototype · supcon", "prototype", 5, "accuracy", results.store)
    assert paired is not None and paired["seeds"] == 3
    assert "novel classes" in results.store
    with pytest.raises(DataError, match="novel at least 2"):
        api.evaluate_adapted(store.root, settings, ["prototype"], [1], 1, 0.95, progress=False)
