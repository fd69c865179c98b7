"""Cosine search helpers shared by the open-set kNN score and the duplicate finder: unit
vectors, and an inverted-file FAISS index (the `[index]` extra) for stores too large for an
exact all-pairs search."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


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
