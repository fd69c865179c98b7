"""GAIS importance on a directed graph (issue 24, item 12): the attention a node receives, not
the attention it gives, against a plain loop over the GAT's own parameters."""

from __future__ import annotations

import numpy as np
import torch

from headstart.quality.gais import GAT, received_attention


def loop_alpha(layer, h: torch.Tensor, edges: list[tuple[int, int]]) -> dict:
    """α[(j, i)] per edge j → i, mean over heads: softmax over i's incoming edges of
    LeakyReLU_0.2(a_sᵀ W h_j + a_tᵀ W h_i) (Veličković et al.), one edge at a time."""
    z = layer.project(h).view(len(h), layer.heads, layer.d_out)
    alpha = {}
    for i in range(len(h)):
        incoming = [j for j, t in edges if t == i]
        for head in range(layer.heads):
            scores = [
                torch.nn.functional.leaky_relu(
                    (z[j, head] * layer.source[head]).sum()
                    + (z[i, head] * layer.target[head]).sum(),
                    0.2,
                ).item()
                for j in incoming
            ]
            top = max(scores)
            total = sum(np.exp(s - top) for s in scores)
            for j, s in zip(incoming, scores, strict=True):
                alpha[(j, i)] = alpha.get((j, i), 0.0) + np.exp(s - top) / total / layer.heads
    return alpha


def test_importance_is_the_attention_received_not_the_attention_given():
    """A directed star: the hub (node 0) sends to every leaf, so each leaf attends to the hub
    and to itself, and the hub only to itself. Received attention puts everything on the
    hub and nothing on the leaves; given attention (summing by the edge's target, the
    mistake a symmetric graph cannot reveal) would give the hub 0 and every leaf 1 − α_ii.
    The values are checked against a loop over both layers' parameters."""
    torch.manual_seed(0)
    n = 6
    model = GAT(5, 3, hidden=4, heads=2)
    x = torch.randn(n, 5)
    edges = [(0, leaf) for leaf in range(1, n)] + [(i, i) for i in range(n)]
    tensor = torch.tensor(edges).T
    got = received_attention(model, x, tensor)
    with torch.no_grad():
        first = loop_alpha(model.first, x, edges)
        hidden = torch.nn.functional.elu(model.first(x, tensor)[0])
        second = loop_alpha(model.second, hidden, edges)
    expected = np.zeros(n)
    for (j, i), value in first.items():
        if i != j:
            expected[j] += (value + second[(j, i)]) / 2
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert got[0] > 1.0 and (got[1:] == 0).all()
