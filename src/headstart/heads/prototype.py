"""`Prototype`: nearest class mean, by cosine similarity or Euclidean distance.

Cosine: class means of L2-normalised embeddings, renormalised; logits cos(x, m_k) / τ.
Euclidean: logits −½‖x − m_k‖² / τ. The temperature τ only shapes probabilities, never the
predicted class.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from headstart.heads.base import Head
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.vector_index import unit_rows

l2_normalize = unit_rows  # the one L2 normalisation, named as the heads call it


class Prototype(Head):
    """Nearest class mean (cosine or Euclidean), the simplest few-shot head.

    `metric` "cosine" or "euclidean"; `temperature` τ scales logits (default 0.1 for cosine,
    whose similarities lie in [−1, 1], and 1 for Euclidean when left as None).
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="distance", incremental=True)

    def __init__(self, metric: str = "cosine", temperature: float | None = None) -> None:
        self.metric = metric
        self.temperature = temperature

    def _tau(self) -> float:
        if self.temperature is not None:
            if self.temperature <= 0:
                raise ValueError(f"temperature must be positive, got {self.temperature}")
            return float(self.temperature)
        return 0.1 if self.metric == "cosine" else 1.0

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {self.metric!r}")
        self._tau()
        self.prototypes_ = self._means(X, y, len(self.classes_))

    def _means(self, X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
        source = l2_normalize(X) if self.metric == "cosine" else X
        means = np.stack([source[y == c].mean(axis=0) for c in range(k)])
        return l2_normalize(means) if self.metric == "cosine" else means

    def _extend(self, X: np.ndarray, y_index: np.ndarray) -> None:
        """New classes' prototypes beside the old ones, which stay as they were."""
        new = self._means(X, y_index, int(y_index.max()) + 1)
        self.prototypes_ = np.vstack([self.prototypes_, new.astype(self.prototypes_.dtype)])

    def _scores(self, X: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            cosines = l2_normalize(X) @ self.prototypes_.T.astype(X.dtype)
            return cosines.astype(np.float64) / self._tau()
        squared = (
            (X**2).sum(axis=1, keepdims=True)
            - 2 * X @ self.prototypes_.T
            + (self.prototypes_**2).sum(axis=1)
        )
        return -0.5 * squared / self._tau()


register_head("prototype", Prototype)
