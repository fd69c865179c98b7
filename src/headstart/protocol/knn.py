"""kNN on frozen features as representation papers evaluate them: every training row is the
support, every test row a query, cosine similarity on L2-normalised features.

- **weighted** (the DINO evaluation protocol, Caron et al. 2021, `eval_knn.py`): the k nearest
  training rows vote for their class with weight exp(cos / T); k = 20, T = 0.07 by default.
- **majority**: each of the k nearest rows casts one vote; a tie goes to the smallest class
  index (scikit-learn's `KNeighborsClassifier` rule).

Top-1 and top-5 accuracy (top-5 as DINO reports it: the true class among the five classes
with the most vote mass). Deterministic: one row per variant and k, seed 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from headstart.exceptions import DataError
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

VARIANTS = ("weighted", "majority")
CHUNK = 1024  # queries scored at a time: bounds the (queries × support) similarity block


def knn_votes(
    support: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    k: int,
    n_classes: int,
    temperature: float | None,
) -> np.ndarray:
    """(n_queries, n_classes) vote mass of the k nearest support rows by cosine similarity:
    exp(cos / temperature) each, or 1 each when `temperature` is None (majority)."""
    support = unit_rows(np.asarray(support, dtype=np.float32))
    votes = np.zeros((len(queries), n_classes))
    k = min(k, len(support))
    for start in range(0, len(queries), CHUNK):
        block = unit_rows(np.asarray(queries[start : start + CHUNK], dtype=np.float32))
        similarity = block @ support.T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        cosines = np.take_along_axis(similarity, nearest, axis=1).astype(np.float64)
        weights = np.ones_like(cosines) if temperature is None else np.exp(cosines / temperature)
        rows = np.repeat(np.arange(len(block)), k)
        np.add.at(
            votes[start : start + len(block)], (rows, labels[nearest].ravel()), weights.ravel()
        )
    return votes


def top_accuracy(votes: np.ndarray, y: np.ndarray, top: int) -> float:
    """Share of queries whose class is among the `top` classes with the most votes (ties
    broken toward the smaller class index, as `argmax` does for top 1)."""
    order = np.argsort(-votes, axis=1, kind="stable")[:, :top]
    return float(np.mean((order == y[:, None]).any(axis=1)))


@dataclass
class KNNSettings(Settings):
    ks: list[int] = option([20], "neighbours k, comma-separated (DINO: 20)")
    temperature: float = option(0.07, "T of the weighted vote exp(cos / T) (DINO: 0.07)")
    variants: list[str] = option(list(VARIANTS), "weighted and/or majority")

    def validate(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise DataError(f"setting ks = {self.ks}: give neighbour counts ≥ 1")
        if self.temperature <= 0:
            raise DataError(f"setting temperature = {self.temperature}: must be > 0")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown or not self.variants:
            raise DataError(
                f"setting variants = {self.variants}: choose from {', '.join(VARIANTS)}"
            )


@register_protocol
class KNN(Protocol):
    """kNN on frozen features (DINO's weighted vote and a plain majority), full training split."""

    name = "knn"
    title = "kNN on frozen {encoder} features: every training row votes"
    settings_type = KNNSettings
    metrics = (Metric("accuracy"), Metric("top5_accuracy"))

    def total(self, settings: KNNSettings) -> int:
        return len(settings.ks) * len(settings.variants)

    def run(
        self,
        inputs: StoreInputs,
        settings: KNNSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        X_train, y_train, X_test, y_test = inputs.arrays()
        n_classes = int(max(y_train.max(), y_test.max())) + 1
        results = inputs.results(
            seeds=1,
            n_train=len(y_train),
            n_test=len(y_test),
            families={f"knn-{v} k={k}": "distance" for v in settings.variants for k in settings.ks},
        )
        for variant in settings.variants:
            temperature = settings.temperature if variant == "weighted" else None
            for k in settings.ks:
                votes = knn_votes(X_train, y_train, X_test, k, n_classes, temperature)
                metrics = {"accuracy": top_accuracy(votes, y_test, 1)}
                if n_classes > 5:  # DINO: the first min(5, k) classes by vote mass
                    metrics["top5_accuracy"] = top_accuracy(votes, y_test, min(5, k))
                results.add(f"knn-{variant} k={k}", "all", 0, metrics)
                if progress:
                    progress(1)
        return results
