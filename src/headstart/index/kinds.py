"""The FAISS index kinds headstart builds over unit vectors (inner product = cosine), and how
the kind and its parameters follow from the number of vectors.

- `flat`: exact search; chosen up to `EXACT_UP_TO` vectors, where a scan costs milliseconds.
- `ivf`: inverted file; k-means cells (≈ 4·√n, FAISS's rule of thumb), `depth` cells probed.
- `hnsw`: graph search (M = 32 links); `depth` is efSearch, the candidate list length.
The search depth of `ivf`/`hnsw` is tuned afterwards to a recall target (`tuning.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from headstart.exceptions import DataError
from headstart.registry import Registry
from headstart.vector_index import has_faiss, ivf_index

EXACT_UP_TO = 50_000
INDEX_KINDS: Registry[Callable[..., Any]] = Registry("index kind")


def faiss_module(needed_by: str = "vector search") -> Any:
    """The `faiss` module, or a clear error naming the extra to install."""
    if not has_faiss():
        raise DataError(f"{needed_by} needs FAISS: pip install 'headstart[index]'")
    import faiss

    return faiss


def plan_index(n: int, kind: str = "auto") -> dict[str, Any]:
    """The kind and build parameters for `n` vectors: exact up to `EXACT_UP_TO`, else IVF."""
    if n < 1:
        raise DataError("an index needs at least one vector")
    if kind == "auto":
        kind = "flat" if n <= EXACT_UP_TO else "ivf"
    INDEX_KINDS.entry(kind)  # unknown kinds fail here, with the registered ones named
    if kind == "ivf":
        lists = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
        return {"kind": kind, "lists": max(1, min(lists, n // 39)), "depth": 8}
    if kind == "hnsw":
        return {"kind": kind, "links": 32, "build_depth": 64, "depth": 32}
    return {"kind": kind}


def build_index(unit: np.ndarray, plan: dict[str, Any]) -> Any:
    """A FAISS index of kind `plan["kind"]` over `unit` rows (float32, unit length)."""
    faiss_module(f"a {plan['kind']} index")
    factory = INDEX_KINDS.entry(plan["kind"])[0].factory
    index = factory(np.ascontiguousarray(unit, dtype=np.float32), plan)
    set_depth(index, plan.get("depth"))
    return index


def set_depth(index: Any, depth: int | None) -> None:
    """How widely a query searches: cells probed (IVF) or efSearch (HNSW); exact has none."""
    import faiss

    if depth is None:
        return
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = int(min(depth, index.nlist))
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = int(depth)


@INDEX_KINDS.register("flat", "exact inner-product scan (small stores)")
def _flat(unit: np.ndarray, plan: dict[str, Any]) -> Any:
    import faiss

    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    return index


@INDEX_KINDS.register("ivf", "inverted file of k-means cells (large stores)")
def _ivf(unit: np.ndarray, plan: dict[str, Any]) -> Any:
    return ivf_index(unit, plan["lists"], plan["depth"], "an ivf index")


@INDEX_KINDS.register("hnsw", "hierarchical navigable small-world graph")
def _hnsw(unit: np.ndarray, plan: dict[str, Any]) -> Any:
    import faiss

    index = faiss.IndexHNSWFlat(unit.shape[1], plan["links"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = plan["build_depth"]
    index.add(unit)
    return index
