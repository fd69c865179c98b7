"""Instance selection (issue 14): GAIS's graph constructions and attention against direct
computations, and the baselines' defining properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart.quality.gais import GATLayer, batch_edges, gais_importance, lsh_edges, select_top
from headstart.quality.instance_selection import SELECTORS, select_instances


def _blobs(seed: int = 0, n: int = 90):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    X = rng.normal(size=(3, 8))[y] * 3 + rng.normal(size=(n, 8))
    return X, y


def test_gat_attention_is_a_softmax_over_each_nodes_incoming_edges():
    torch.manual_seed(0)
    layer = GATLayer(5, 3, heads=2, concat=True)
    h = torch.randn(6, 5)
    edges = torch.tensor([[0, 1, 2, 3, 4, 5, 1, 2], [1, 1, 1, 2, 2, 5, 0, 0]])
    out, alpha = layer(h, edges)
    z = layer.project(h).view(6, 2, 3).detach()
    for target in (0, 1, 2, 5):
        incoming = np.flatnonzero(edges[1].numpy() == target)
        src = edges[0, incoming]
        raw = (z[src] * layer.source).sum(-1) + (z[target] * layer.target).sum(-1)
        expected = torch.softmax(torch.nn.functional.leaky_relu(raw, 0.2), 0)
        torch.testing.assert_close(alpha[incoming], expected.detach())
        mixed = (expected[..., None] * z[src]).sum(0).reshape(-1)
        torch.testing.assert_close(out[target].detach(), mixed.detach())
    assert out[3].abs().sum() == 0  # no incoming edges: nothing mixed in


def test_batch_graph_links_only_close_items_within_a_batch():
    X, y = _blobs()
    edges = batch_edges(X, y, batch_size=30, quantile=0.1, seed=1)
    rng = np.random.default_rng(1)
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in range(3)])
    batch_of = np.empty(90, int)
    for b in range(3):
        batch_of[order[b::3]] = b
    assert (batch_of[edges[0]] == batch_of[edges[1]]).all()
    assert (edges[0] != edges[1]).all()
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    linked = 1 - (unit[edges[0]] * unit[edges[1]]).sum(1)
    members = order[0::3]
    d = 1 - unit[members] @ unit[members].T
    cut = np.quantile(d[np.triu_indices(30, 1)], 0.1)
    in_batch0 = batch_of[edges[0]] == 0
    assert (linked[in_batch0] <= cut + 1e-6).all()
    assert in_batch0.sum() == 2 * (d[np.triu_indices(30, 1)] <= cut).sum()


def test_lsh_graph_links_only_items_sharing_a_bucket():
    X, _ = _blobs(2)
    edges = lsh_edges(X, bits=4, levels=1, views=1, bucket_cap=100, seed=3)
    rng = np.random.default_rng(3)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    codes = ((unit @ rng.standard_normal((8, 4))) > 0) @ (1 << np.arange(4))
    assert (codes[edges[0]] == codes[edges[1]]).all()
    pairs = {tuple(e) for e in edges.T}
    same = [(i, j) for i in range(90) for j in range(90) if i != j and codes[i] == codes[j]]
    assert pairs == set(same)  # every pair in a bucket, no other
    more = lsh_edges(X, bits=4, levels=2, views=2, bucket_cap=100, seed=3)
    assert pairs <= {tuple(e) for e in more.T}  # coarser levels and views only add


def test_select_top_keeps_the_share_of_every_class():
    y = _blobs()[1]
    scores = np.arange(90.0)
    kept = select_top(scores, y, 0.2)
    assert np.bincount(y[kept]).tolist() == [6, 6, 6]
    assert set(kept[y[kept] == 0]) == set(range(24, 30))  # the highest scores of class 0


def test_gais_importance_is_the_attention_a_node_receives():
    X, y = _blobs(4)
    importance = gais_importance(X, y, "batch", steps=5, batch_size=45)
    assert importance.shape == (90,) and (importance >= 0).all()
    edges = batch_edges(X, y, batch_size=45)
    never_a_source = np.setdiff1d(np.arange(90), edges[0])
    assert (importance[never_a_source] == 0).all()  # only self-loops: receives nothing


def test_condensed_nearest_neighbour_classifies_all_training_items():
    X, y = _blobs(5)
    kept = select_instances(X, y, "cnn")
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    nearest = kept[np.argmax(unit @ unit[kept].T, axis=1)]
    assert (y[nearest] == y).all()  # Hart's consistency: the subset's 1-NN is right on all
    assert len(kept) < len(y)


def test_kcenter_picks_a_planted_far_item_of_its_class():
    X, y = _blobs(6)
    X[10] = X[y == 0].mean(0) * -5  # far from the rest of class 0
    kept = select_instances(X, y, "kcenter", keep=0.1)
    assert 10 in kept and np.bincount(y[kept]).tolist() == [3, 3, 3]


@pytest.mark.parametrize("method", sorted(SELECTORS.names()))
def test_every_selector_returns_sorted_unique_indices_with_every_class(method):
    X, y = _blobs(7)
    kept = select_instances(X, y, method, keep=0.2)
    assert (np.diff(kept) > 0).all() and set(y[kept]) == {0, 1, 2}
    with pytest.raises(ValueError, match="keep must be"):
        select_instances(X, y, method, keep=0)
