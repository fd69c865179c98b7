"""`KNN`: k nearest neighbours by cosine similarity, scored in batches with `torch.topk`.

Each test point's k most similar training points vote for their class, uniformly or with
weight exp(cos / τ) ("similarity"); votes plus Laplace smoothing give the probabilities.
A large support set is searched through a FAISS index (recall@10 ≥ 0.95, tuned on it).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.tensors import as_tensor, product, to_numpy
from headstart.index.kinds import EXACT_UP_TO, build_index, plan_index
from headstart.index.tuning import tune_depth
from headstart.vector_index import has_faiss

SEARCHES = ("auto", "exact", "index")


class KNN(Head):
    """Cosine k-nearest-neighbours with uniform or similarity-weighted votes.

    `n_neighbors` k (capped at the training size); `weights` "uniform" or "similarity";
    `temperature` τ of the similarity weights; `smoothing` is added to every class's votes;
    `batch_size` test rows per top-k; `device` for torch. `search`: "exact", "index" (FAISS,
    the `[index]` extra) or "auto" (the index above 50,000 support items when FAISS is there).
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="distance")

    def __init__(
        self,
        n_neighbors: int = 5,
        weights: str = "similarity",
        temperature: float = 0.1,
        smoothing: float = 0.1,
        batch_size: int = 4096,
        device: str = "cpu",
        search: str = "auto",
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.temperature = temperature
        self.smoothing = smoothing
        self.batch_size = batch_size
        self.device = device
        self.search = search

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.weights not in ("uniform", "similarity"):
            raise ValueError(f"weights must be 'uniform' or 'similarity', got {self.weights!r}")
        if self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {self.n_neighbors}")
        if self.search not in SEARCHES:
            raise ValueError(f"search must be one of {SEARCHES}, got {self.search!r}")
        if self.search == "index" and not has_faiss():
            raise ValueError("search='index' needs FAISS: pip install 'headstart[index]'")
        self.support_ = l2_normalize(X)
        self.support_labels_ = y.astype(np.int64)
        self._index = None  # the FAISS index of a large support set, built when first needed

    def _uses_index(self) -> bool:
        large = len(self.support_) > EXACT_UP_TO and has_faiss()
        return self.search == "index" or (self.search == "auto" and large)

    def _neighbours(self, queries: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Similarities and support positions of each query's k nearest, from the index
        (built on first use from the support set, then kept)."""
        if getattr(self, "_index", None) is None:
            support = np.ascontiguousarray(self.support_, dtype=np.float32)
            plan = plan_index(len(support), "ivf" if len(support) > EXACT_UP_TO else "flat")
            self._index = build_index(support, plan)
            tune_depth(self._index, support, plan, k=max(k, 10))
        similarity, index = self._index.search(np.ascontiguousarray(queries, np.float32), k)
        return torch.as_tensor(similarity), torch.as_tensor(index).clamp(min=0)

    def _scores(self, X: np.ndarray) -> np.ndarray:
        # X's precision: float32 embeddings search at twice the speed of float64
        dtype = torch.float32 if X.dtype == np.float32 else torch.float64
        support = as_tensor(self.support_, self.device, dtype)
        labels = torch.as_tensor(self.support_labels_, device=support.device)
        k = min(self.n_neighbors, len(labels))
        n_classes = len(self.classes_)
        out = []
        for start in range(0, len(X), self.batch_size):
            queries = as_tensor(
                l2_normalize(X[start : start + self.batch_size]), self.device, dtype
            )
            if self._uses_index():
                similarity, index = self._neighbours(to_numpy(queries), k)
                similarity, index = similarity.to(support), index.to(support.device)
            else:
                similarity, index = torch.topk(product(queries, support.T), k, dim=1)  # (B, k)
            if self.weights == "uniform":
                weight = torch.ones_like(similarity)
            else:  # subtract the row max so exp never overflows; ratios are unchanged
                weight = torch.exp((similarity - similarity[:, :1]) / self.temperature)
                weight = weight / weight.sum(dim=1, keepdim=True) * k
            votes = torch.zeros(len(queries), n_classes, dtype=weight.dtype, device=weight.device)
            votes.scatter_add_(1, labels[index], weight)
            out.append(torch.log(votes + self.smoothing))
        return to_numpy(torch.cat(out))


register_head("knn", KNN)
