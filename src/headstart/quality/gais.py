"""GAIS: graph-attention instance selection (Rustamov, Zaitouny, Zaki; AI Open 2025).

Items become nodes of a graph, a graph attention network (GAT, Veličković et al.) learns to
classify them from their neighbours, and the attention each node *receives* from its
neighbours is its importance: nodes that many others attend to in order to get their own
label right carry the decision. The top `keep` share of each class is selected.

Two graph constructions, as the paper describes them:
- "batch": distance-based mini-batches — items are dealt into stratified random batches of
  `batch_size`; inside a batch, two items are linked when their cosine distance is within the
  batch's `quantile` of pairwise distances. Cost per batch is fixed, independent of n.
- "lsh": hierarchical hashing — random-hyperplane signatures of `bits` bits (by default
  log₂(n / 32), so buckets hold about 32 items); items sharing a bucket are linked;
  `levels` > 1 also links items sharing a coarser prefix of the signature, `views` > 1
  repeats with independent hyperplanes and unions the edges; a bucket holding more than
  `bucket_cap` items links each to `bucket_cap` random members only.
The official repository holds only a licence file, so the settings here (two GAT layers of 4
heads × 16 units, 100 full-graph Adam steps, lr 5e-3) are ours, chosen on training items, and
so is the exact importance (our reading of the paper's "attention-based importance"): the
sum of the attention α_ij that other nodes i pay to node j, averaged over heads and layers
(`received_attention`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from headstart.vector_index import unit_rows

GRAPHS = ("batch", "lsh")


def batch_edges(
    X: np.ndarray, y: np.ndarray, batch_size: int = 512, quantile: float = 0.05, seed: int = 0
) -> np.ndarray:
    """(2, E) directed edges from distance-thresholded stratified mini-batches."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    batches = max(1, round(len(y) / batch_size))
    unit = unit_rows(X).astype(np.float32)
    edges = []
    for b in range(batches):
        members = order[b::batches]  # every class dealt evenly into the batches
        distance = 1.0 - unit[members] @ unit[members].T
        upper = distance[np.triu_indices(len(members), 1)]
        if not len(upper):
            continue
        cut = np.quantile(upper, quantile)
        i, j = np.nonzero((distance <= cut) & ~np.eye(len(members), dtype=bool))
        edges.append(np.stack([members[i], members[j]]))
    return np.concatenate(edges, axis=1) if edges else np.empty((2, 0), np.int64)


def lsh_edges(
    X: np.ndarray,
    bits: int | None = None,
    levels: int = 1,
    views: int = 1,
    bucket_cap: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """(2, E) directed edges between items sharing a random-hyperplane bucket."""
    rng = np.random.default_rng(seed)
    unit = unit_rows(X)
    if bits is None:
        bits = int(np.clip(round(np.log2(max(len(X), 2) / 32)), 2, 20))
    edges = []
    for _ in range(views):
        signs = (unit @ rng.standard_normal((X.shape[1], bits))) > 0
        for level in range(levels):  # level 0: all bits; each further level drops a quarter
            width = max(1, bits - level * max(1, bits // 4))
            codes = signs[:, :width] @ (1 << np.arange(width))
            for code in np.unique(codes):
                members = np.flatnonzero(codes == code)
                if len(members) < 2:
                    continue
                for i in members:
                    others = members[members != i]
                    if len(others) > bucket_cap:
                        others = rng.choice(others, bucket_cap, replace=False)
                    edges.append(np.stack([np.full(len(others), i), others]))
    if not edges:
        return np.empty((2, 0), np.int64)
    return np.unique(np.concatenate(edges, axis=1), axis=1)


class GATLayer(nn.Module):
    """One multi-head graph attention layer over an edge list (source → target)."""

    def __init__(self, d_in: int, d_out: int, heads: int, concat: bool) -> None:
        super().__init__()
        self.heads, self.d_out, self.concat = heads, d_out, concat
        self.project = nn.Linear(d_in, heads * d_out, bias=False)
        self.source = nn.Parameter(torch.randn(heads, d_out) * 0.1)
        self.target = nn.Parameter(torch.randn(heads, d_out) * 0.1)

    def forward(self, h: torch.Tensor, edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = h.shape[0]
        z = self.project(h).view(n, self.heads, self.d_out)
        src, dst = edges
        logits = nn.functional.leaky_relu(
            (z[src] * self.source).sum(-1) + (z[dst] * self.target).sum(-1), 0.2
        )  # (E, heads)
        weight = torch.exp(logits - logits.max(0).values)  # a shift per head cancels below
        total = torch.zeros(n, self.heads).index_add_(0, dst, weight)
        alpha = weight / total[dst]  # softmax over each target's incoming edges
        out = torch.zeros(n, self.heads, self.d_out).index_add_(0, dst, alpha[..., None] * z[src])
        out = out.reshape(n, -1) if self.concat else out.mean(1)
        return out, alpha


class GAT(nn.Module):
    """Two GAT layers: ELU hidden layer, class logits out; returns both layers' attention."""

    def __init__(self, d: int, classes: int, hidden: int = 16, heads: int = 4) -> None:
        super().__init__()
        self.first = GATLayer(d, hidden, heads, concat=True)
        self.second = GATLayer(hidden * heads, classes, 1, concat=False)

    def forward(self, x: torch.Tensor, edges: torch.Tensor):
        h, a1 = self.first(nn.functional.dropout(x, 0.2, self.training), edges)
        h = nn.functional.elu(h)
        logits, a2 = self.second(nn.functional.dropout(h, 0.2, self.training), edges)
        return logits, (a1.mean(1) + a2.mean(1)) / 2


def gais_importance(
    X: np.ndarray,
    y: np.ndarray,
    graph: str = "batch",
    steps: int = 100,
    seed: int = 0,
    **graph_options: float,
) -> np.ndarray:
    """Attention each item receives from its neighbours in a GAT trained on the graph."""
    if graph not in GRAPHS:
        raise ValueError(f"graph must be one of {GRAPHS}, got {graph!r}")
    y = np.asarray(y)
    if graph == "batch":
        edges = batch_edges(X, y, seed=seed, **graph_options)
    else:
        edges = lsh_edges(X, seed=seed, **graph_options)
    n = len(y)
    loops = np.arange(n)  # self loops: every node attends to itself too
    all_edges = torch.as_tensor(np.concatenate([edges, np.stack([loops, loops])], axis=1))
    torch.manual_seed(seed)
    x = torch.as_tensor(unit_rows(X), dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.int64)
    model = GAT(X.shape[1], int(y.max()) + 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3, weight_decay=5e-4)
    for _ in range(steps):
        optimiser.zero_grad()
        logits, _ = model(x, all_edges)
        nn.functional.cross_entropy(logits, labels).backward()
        optimiser.step()
    return received_attention(model, x, all_edges)


def received_attention(model: GAT, x: torch.Tensor, edges: torch.Tensor) -> np.ndarray:
    """(n,) importance: for every node j, Σ α_ij over the nodes i ≠ j that attend to it
    (edges j → i: i mixes j's features with weight α_ij), α averaged over heads and the two
    layers. Not the attention a node gives: that sums to 1 − α_jj for every node."""
    model.eval()
    with torch.no_grad():
        _, attention = model(x, edges)
    source, target = edges.numpy()
    others = source != target
    received = np.zeros(len(x))
    np.add.at(received, source[others], attention.numpy()[others])
    return received


def select_top(scores: np.ndarray, y: np.ndarray, keep: float) -> np.ndarray:
    """Sorted indices of the top `keep` share of every class by score (at least one each)."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    chosen = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        count = max(1, round(keep * len(rows)))
        chosen.append(rows[np.argsort(-scores[rows], kind="stable")[:count]])
    return np.sort(np.concatenate(chosen))
