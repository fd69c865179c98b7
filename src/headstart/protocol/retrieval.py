"""Class-level retrieval on frozen features: every test row is a query, the training split is
the gallery, and an item is relevant when it shares the query's class. Cosine similarity on
L2-normalised features.

Metrics as Musgrave et al. 2020 ("A Metric Learning Reality Check", §3.2) define them, with
R = the number of gallery items of the query's class:
- **precision@1**: whether the nearest gallery item is relevant;
- **R-precision**: the relevant share of the R nearest;
- **MAP@R**: (1/R) Σ_{i ≤ R} P(i)·rel(i), P(i) the precision at rank i — mean average
  precision that stops at R, so it rewards a well-ranked neighbourhood, not just a hit;
- **recall@k**: whether any of the k nearest is relevant (the deep-metric-learning "Recall@K",
  a hit rate — not the share of relevant items found).

Exact search by default; `index` = flat/ivf/hnsw searches the FAISS index headstart builds
for `headstart index` (approximate for ivf/hnsw: an item it misses counts as not relevant).
Deterministic: one row, seed 0. Queries whose class has no gallery item are left out, counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from headstart.exceptions import DataError
from headstart.index.kinds import build_index, plan_index
from headstart.index.tuning import exact_neighbours
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    option,
    register_protocol,
)
from headstart.protocol.results import Results
from headstart.vector_index import unit_rows

SEARCHES = ("exact", "flat", "ivf", "hnsw")


def ranked_relevance(
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    queries: np.ndarray,
    query_labels: np.ndarray,
    depth: int,
    search: str = "exact",
) -> np.ndarray:
    """(n_queries, depth) booleans: whether the i-th nearest gallery item (cosine) shares the
    query's class. Ranks past the gallery or missed by an approximate index are False."""
    unit_gallery = unit_rows(np.asarray(gallery, dtype=np.float32))
    unit_queries = unit_rows(np.asarray(queries, dtype=np.float32))
    depth = min(depth, len(unit_gallery))
    if search == "exact":  # chunked inner products, the index's own exact search
        order = exact_neighbours(unit_gallery, unit_queries, depth)
    else:
        index = build_index(unit_gallery, plan_index(len(unit_gallery), search))
        order = index.search(np.ascontiguousarray(unit_queries), depth)[1]
    labels = np.asarray(gallery_labels)[np.maximum(order, 0)]
    return (labels == np.asarray(query_labels)[:, None]) & (order >= 0)


def retrieval_metrics(
    relevant: np.ndarray, counts: np.ndarray, recall_ks: list[int]
) -> dict[str, float]:
    """Musgrave's precision@1, R-precision and MAP@R, and hit-rate recall@k, averaged over
    queries, from ranked relevance (n, depth) and each query's R (`counts`, all ≥ 1)."""
    depth = relevant.shape[1]
    ranks = np.arange(1, depth + 1)
    within = ranks[None, :] <= counts[:, None]  # the first R ranks of each query
    hits = relevant & within
    precision_at = np.cumsum(hits, axis=1) / ranks[None, :]
    out = {
        "map_at_r": float(np.mean((precision_at * hits).sum(axis=1) / counts)),
        "r_precision": float(np.mean(hits.sum(axis=1) / counts)),
        "precision_at_1": float(np.mean(relevant[:, 0])) if depth else 0.0,
    }
    for k in recall_ks:
        out[f"recall_at_{k}"] = float(np.mean(relevant[:, :k].any(axis=1)))
    return out


@dataclass
class RetrievalSettings(Settings):
    recall_ks: list[int] = option([1, 5, 10], "k of recall@k (hit rate), comma-separated")
    index: str = option(
        "exact", "search: exact, or a FAISS index (flat, ivf, hnsw)", choices=SEARCHES
    )

    def validate(self) -> None:
        if not self.recall_ks or min(self.recall_ks) < 1:
            raise DataError(f"setting recall-ks = {self.recall_ks}: give ranks ≥ 1")
        if self.index not in SEARCHES:
            raise DataError(f"setting index = {self.index!r}: choose from {', '.join(SEARCHES)}")


@register_protocol
class Retrieval(Protocol):
    """Class-level retrieval, test queries against the training split: MAP@R, R-precision, P@1."""

    name = "retrieval"
    title = "Retrieval by {encoder} features: test queries, training gallery, same class"
    settings_type = RetrievalSettings
    metrics = (
        Metric("map_at_r"),
        Metric("r_precision"),
        Metric("precision_at_1"),
        Metric("recall_at_k"),
    )
    main_metric = "map_at_r"

    def total(self, settings: RetrievalSettings) -> int:
        return 1

    def run(
        self,
        inputs: StoreInputs,
        settings: RetrievalSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        X_train, y_train, X_test, y_test = inputs.arrays()
        counts = np.bincount(y_train, minlength=int(max(y_train.max(), y_test.max())) + 1)
        answered = counts[y_test] > 0
        if not answered.any():
            raise DataError(
                f"store {inputs.label}: no test row's class has a training row; retrieval "
                "needs the queries' classes in the gallery"
            )
        depth = max(int(counts[y_test[answered]].max()), *settings.recall_ks)
        relevant = ranked_relevance(
            X_train, y_train, X_test[answered], y_test[answered], depth, settings.index
        )
        results = inputs.results(
            seeds=1,
            n_gallery=len(y_train),
            n_queries=int(answered.sum()),
            queries_without_gallery_class=int((~answered).sum()),
            search=settings.index,
            families={"retrieval": "distance"},
        )
        metrics = retrieval_metrics(relevant, counts[y_test[answered]], settings.recall_ks)
        results.add("retrieval", "all", 0, metrics)
        if progress:
            progress(1)
        return results
