"""Issue 15: adapters trained on a store, saved, applied to make a new store; bad inputs
refused before any work; test items never seen by the training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from headstart import api
from headstart.adapt.adapter import create_adapter
from headstart.adapt.metrics import separability
from headstart.adapt.train import fit_adapter
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
    import headstart.protocol.base_novel as adaptation

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


def test_the_unlabelled_variant_adapts_on_every_training_row_without_labels(tmp_path, monkeypatch):
    import headstart.protocol.base_novel as adaptation

    store = _store(tmp_path / "s", n=360)
    seen = []
    original = adaptation.fit_adapter

    def recording(X_rows, labels, settings, *args, **kwargs):
        seen.append((len(X_rows), labels))
        return original(X_rows, labels, settings, *args, **kwargs)

    monkeypatch.setattr(adaptation, "fit_adapter", recording)
    settings = api.AdaptSettings(loss="info-nce", epochs=2, batch_size=32)
    results = api.evaluate_adapted(
        store.root, settings, ["prototype"], [1], 2, 0.34, progress=False, unlabelled=True
    )
    assert seen == [(240, None), (240, None)]  # all 240 training rows, never a label
    assert "unlabelled training split" in results.store
    with pytest.raises(DataError, match="'supcon' needs labels"):
        api.evaluate_adapted(
            store.root, FAST, ["prototype"], [1], 1, 0.34, progress=False, unlabelled=True
        )


def _views(X, rng, n_views=3, noise=0.3):
    views = X[:, None] + rng.normal(size=(len(X), n_views, X.shape[1])) * noise
    views[:, 0] = X
    return views.astype(np.float32)


def test_transitive_positives_walk_view_and_neighbour_edges():
    """Half the partners are another view of the anchor's own item, the rest a view of one
    of its k nearest neighbours; without views the loss is refused."""
    from headstart.adapt.train import PairSampler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    views = _views(X, rng, 4)
    sampler = PairSampler(X, None, views, "transitive", 3, np.random.default_rng(1), np.arange(40))
    rows = np.arange(40).repeat(25)
    anchors, partners = sampler.pairs(rows)
    flat = views.reshape(-1, 6)
    where = [np.flatnonzero((flat == p).all(1))[0] for p in partners]
    item, view = np.divmod(where, 4)
    own = item == rows
    assert 0.4 < own.mean() < 0.6
    anchor_view = [
        np.flatnonzero((views[r] == a).all(1))[0] for r, a in zip(rows, anchors, strict=True)
    ]
    assert (view[own] != np.asarray(anchor_view)[own]).all()  # intra edge: another view
    assert all(i in sampler.near[r] for r, i in zip(rows[~own], item[~own], strict=True))
    with pytest.raises(DataError, match="need a store embedded with --views"):
        fit_adapter(X, None, api.AdaptSettings(loss="transitive", batch_size=8))
    settings = api.AdaptSettings(loss="transitive", epochs=3, batch_size=16)
    _, history = fit_adapter(X, None, settings, views)
    assert history["positives"] == "transitive"


def test_sepclr_separates_what_only_the_target_has(tmp_path):
    """Background: 3 common clusters. Target: the same clusters plus 2 salient subgroups. The
    salient half learns the subgroups and not the clusters; the common half the reverse."""
    rng = np.random.default_rng(0)

    def make(n, salient):
        common, sub = rng.integers(0, 3, n), rng.integers(0, 2, n)
        X = rng.normal(size=(n, 12)) * 0.5
        X[:, :3] += np.eye(3)[common] * 3
        if salient:
            X[:, 3:5] += np.array([[2.5, -2.5], [-2.5, 2.5]])[sub]
        return X.astype(np.float32), common, sub

    (Xb, _, _), (Xt, common, sub) = make(300, False), make(300, True)
    settings = api.AdaptSettings(
        loss="sepclr",
        adapter="linear",
        adapter_options={"d_out": 8},
        epochs=40,
        batch_size=100,
        lr=1e-2,  # the heads' BatchNorm (official) wants a larger step than 3e-3 here
        patience=40,
    )
    with pytest.raises(DataError, match="background store"):
        fit_adapter(Xt, None, settings, _views(Xt, rng))
    adapter, _ = fit_adapter(
        Xt, None, settings, _views(Xt, rng), background=Xb, background_views=_views(Xb, rng)
    )
    with torch.no_grad():
        Z = adapter(torch.as_tensor(Xt)).numpy()
    assert separability(Z[:, 4:], sub) > 4 * separability(Z[:, 4:], common)
    assert separability(Z[:, :4], common) > 2 * separability(Z[:, :4], sub)
    target_views_only = dict(background=Xb, background_views=None)  # neighbours stand in
    _, history = fit_adapter(
        Xt, None, replace(settings, epochs=1), _views(Xt, rng), **target_views_only
    )
    assert history["positives"] == "neighbours"
    with pytest.raises(DataError, match="takes no background"):
        fit_adapter(Xt, None, FAST, background=Xb)


def test_background_stores_must_share_the_encoder(tmp_path):
    target = _store(tmp_path / "t", labelled=False)
    other = write_vectors(tmp_path / "b", target.vectors(), name="elsewhere")
    settings = api.AdaptSettings(loss="sepclr", epochs=1, batch_size=32)
    with pytest.raises(DataError, match="both need the same encoder"):
        api.adapt(target.root, tmp_path / "a", settings, progress=False, background=other.root)
    with pytest.raises(DataError, match="give one"):
        api.adapt(target.root, tmp_path / "a", settings, progress=False)


def test_simlap_adapts_a_labelled_store(tmp_path):
    store = _store(tmp_path / "s")
    settings = api.AdaptSettings(loss="simlap", epochs=15, batch_size=64, lr=3e-3, patience=15)
    history = api.adapt(store.root, tmp_path / "a", settings, progress=False)
    assert history["positives"] == "labels"
    new = api.transform(store.root, tmp_path / "a", tmp_path / "n")
    test = np.asarray(store.split) == "test"
    before = separability(store.vectors()[test], store.labels[test])
    assert separability(new.vectors()[test], new.labels[test]) > 1.5 * before


@pytest.mark.parametrize(
    "loss, positives, with_views",
    [
        ("supcon", "labels", False),
        ("info-nce", "neighbours", False),
        ("info-nce", "views", True),
        ("transitive", "transitive", True),
        ("mochi", "labels", False),
        ("mlcd", "neighbours", False),
    ],
)
def test_held_out_rows_never_reach_a_gradient(loss, positives, with_views):
    """Issue 24, item 1: the rows kept aside for early stopping are replaced (new vectors,
    views and shuffled labels) and training is unchanged to the bit — per-epoch training
    losses, and the weights wherever the stopping decision agrees. Before the fix the pair
    sampler drew held-out rows as partners of training anchors (and the neighbour graph was
    built over them), and MoCHi queued held-out keys: the supcon, neighbour, transitive and
    mochi rows failed; views and MLCD were already clean and stay as guards."""
    from headstart.adapt.train import split_rows

    rng = np.random.default_rng(0)
    n, d = 240, 8
    y = np.tile(np.arange(4), n // 4)
    X = (rng.normal(size=(n, d)) + 3 * rng.normal(size=(4, d))[y]).astype(np.float32)
    views = _views(X, rng, 3) if with_views else None
    options = {"clusters": 8, "positives": 2} if loss == "mlcd" else {}
    settings = api.AdaptSettings(
        loss=loss, loss_options=options, positives=positives, epochs=4, batch_size=32,
        holdout=0.25, patience=10, adapter="linear",
    )  # fmt: skip
    _, held = split_rows(n, settings.holdout, np.random.default_rng(settings.seed))
    X2, y2 = X.copy(), y.copy()
    X2[held] = rng.normal(size=(len(held), d)) * 5
    y2[held] = rng.permutation(y[held])
    views2 = None
    if with_views:
        views2 = views.copy()
        views2[held] = rng.normal(size=(len(held), 3, d)) * 5
    one, first = fit_adapter(X, y, settings, views)
    two, second = fit_adapter(X2, y2, settings, views2)
    assert first["train"] == second["train"]
    assert first["held_out"] != second["held_out"]  # the held-out rows did change
    if first["kept_epoch"] == second["kept_epoch"]:
        for a, b in zip(one.state_dict().values(), two.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_held_out_loss_is_a_function_of_the_weights():
    """With the weights frozen (lr 0) every epoch's held-out loss is the same, even for a loss
    that draws at random (SimLAP's cross-class partners): the held-out pass has its own fixed
    random draws and leaves the training stream alone. Bad neighbour counts are named."""
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(4), 40)
    X = (rng.normal(size=(160, 6)) + 3 * rng.normal(size=(4, 6))[y]).astype(np.float32)
    settings = api.AdaptSettings(loss="simlap", epochs=4, batch_size=32, lr=0.0, patience=10)
    _, history = fit_adapter(X, y, settings)
    assert len(set(history["held_out"])) == 1
    with pytest.raises(DataError, match="neighbours must be at least 1"):
        fit_adapter(X, None, replace(settings, loss="info-nce", neighbours=0))
