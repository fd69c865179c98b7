"""Cosine search helpers shared by the open-set kNN score and the duplicate finder: unit
vectors, and an inverted-file FAISS index (the `[index]` extra) for stores too large for an
exact all-pairs search."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import torch


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), in X's float precision: headstart's
    one L2 normalisation. The norms are summed in float64 and no ε is added, so the result
    does not depend on the rows' scale (float32 squares overflow above ~1e19 and an ε
    swamps rows of norm ~1e-12)."""
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))[:, None]
    return X / np.where(norms > 0, norms, 1.0).astype(X.dtype)


def has_faiss() -> bool:
    return importlib.util.find_spec("faiss") is not None


def ivf_index(vectors: np.ndarray, lists: int, probes: int, needed_by: str) -> Any:
    """A FAISS IVF-flat inner-product index over `vectors` (float32, unit rows): `lists`
    k-means cells (capped so each has ≥ 39 training points, FAISS's minimum), `probes` cells
    searched per query; trained on a seeded sample of 64 points per cell."""
    if not has_faiss():
        raise ValueError(f"{needed_by} needs FAISS: pip install 'headstart[index]'")
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    lists = max(1, min(lists, len(vectors) // 39))
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).permutation(len(vectors))[: 64 * lists]
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe = min(probes, lists)
    return index


BLOCK = 2048
CHECK = 65_536  # candidate pairs checked in full at a time


def principal_basis(unit: torch.Tensor, dims: int) -> torch.Tensor:
    """(d, dims): the top `dims` eigenvectors of UᵀU — the directions carrying most of the
    rows' squared length."""
    moment = (unit.T @ unit).double()
    return torch.linalg.eigh(moment).eigenvectors[:, -dims:].to(unit.dtype)


def nearest_neighbours(
    X: np.ndarray, k: int, dims: int | None = None, extra: int = 16
) -> np.ndarray:
    """(n, k) indices of each row's k most cosine-similar other rows, most similar first.

    Exact in full dimension; with `dims`, candidates are the k + `extra` nearest in the top
    `dims` principal directions, re-ranked by their exact cosine — approximate, and about
    d / dims times cheaper."""
    unit = torch.as_tensor(unit_rows(np.asarray(X, dtype=np.float32)))
    n = len(unit)
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and {n - 1}, got {k}")
    reduced = unit @ principal_basis(unit, dims) if dims and dims < unit.shape[1] else None
    take = min(n - 1, k + extra) if reduced is not None else k
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, BLOCK):
        rows = torch.arange(start, min(start + BLOCK, n))
        space = unit if reduced is None else reduced
        similarity = space[rows] @ space.T
        similarity[rows - start, rows] = -torch.inf  # never one's own neighbour
        candidates = similarity.topk(take, dim=1).indices
        if reduced is not None:  # re-rank the candidates by their exact cosine
            exact = torch.einsum("bd,bcd->bc", unit[rows], unit[candidates])
            candidates = candidates.gather(1, exact.topk(k, dim=1).indices)
        out[start : start + len(rows)] = candidates.numpy()
    return out


def pairs_at_least(X: np.ndarray, cut: float, dims: int | None = None):
    """Every pair (i, j), i < j, of rows with cosine ≥ `cut`, exactly.

    With `dims`, each block is first screened in the top `dims` principal directions: for unit
    rows u·v = pᵤ·pᵥ + rᵤ·rᵥ with |rᵤ·rᵥ| ≤ ‖rᵤ‖‖rᵥ‖ (the residuals outside those directions),
    so keeping pairs with pᵤ·pᵥ + ‖rᵤ‖‖rᵥ‖ ≥ cut can miss none; the few survivors (about 1.4
    per row on Fashion-MNIST Lite0 features at 128 of 1280 dimensions) are checked in full."""
    unit = torch.as_tensor(unit_rows(np.asarray(X, dtype=np.float32)))
    n = len(unit)
    screen = dims is not None and dims < unit.shape[1]
    if screen:
        reduced = unit @ principal_basis(unit, dims)
        residual = (1 - (reduced**2).sum(1)).clamp(min=0).sqrt() + 1e-4  # float32 slack
    for start in range(0, n, BLOCK):  # each pair once: a block against itself and what follows
        rows = torch.arange(start, min(start + BLOCK, n))
        if not screen:
            hits = torch.nonzero(unit[rows] @ unit[start:].T >= cut, as_tuple=True)
        else:
            screened = reduced[rows] @ reduced[start:].T
            screened.addr_(residual[rows], residual[start:])  # + ‖rᵤ‖‖rᵥ‖ ≥ u·v
            i, j = torch.nonzero(screened >= cut, as_tuple=True)
            keep = torch.cat(  # the exact check, in chunks so memory stays bounded
                [
                    (unit[rows[i[c : c + CHECK]]] * unit[start + j[c : c + CHECK]]).sum(1) >= cut
                    for c in range(0, len(i), CHECK)
                ]
                or [torch.zeros(0, dtype=torch.bool)]
            )
            hits = (i[keep], j[keep])
        i, j = hits[0] + start, hits[1] + start
        later = i < j
        yield from zip(i[later].tolist(), j[later].tolist(), strict=True)
