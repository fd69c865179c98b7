"""`FuDD`: follow-up differential descriptions (Esfandiarpoor & Bach, ICLR 2024).

1. Zero-shot with the template embeddings picks each query's top-k ambiguous classes S.
2. For every ordered pair (i, j), differential descriptions say what a {i} has that a {j}
   has not (precomputed by an LLM and stored as JSON; see `headstart.prompts`). The class
   embedding of i given S is the normalised mean of its descriptions against the other
   classes of S; a class with none of those falls back to its template embedding.
3. The top-k are re-ranked by cosine to these embeddings; classes outside the top-k keep
   their zero-shot order below them.
Inputs are per-pair sums and counts of normalised description embeddings (K, K, d), (K, K).
"""

from __future__ import annotations

import numpy as np

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.zero_shot import text_rows


class FuDD(Head):
    """Zero-shot re-ranked within each query's top-k by differential descriptions.

    `pair_sums[i, j]` is the sum of the normalised embeddings of i's descriptions against j,
    `pair_counts[i, j]` their number. Scores: re-ranked classes get 1/τ · cosine + a margin
    that keeps them above the rest; the others keep zero-shot cosines.
    """

    label_free = True

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        pair_sums: np.ndarray | None = None,
        pair_counts: np.ndarray | None = None,
        top_k: int = 10,
        temperature: float = 0.01,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.pair_sums = pair_sums
        self.pair_counts = pair_counts
        self.top_k = top_k
        self.temperature = temperature

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.text_ = text_rows(self.class_embeddings, self.classes_, X.shape[1])
        n = len(np.asarray(self.class_embeddings))
        sums = np.zeros((n, n, X.shape[1])) if self.pair_sums is None else self.pair_sums
        counts = np.zeros((n, n)) if self.pair_counts is None else self.pair_counts
        sums, counts = np.asarray(sums, np.float64), np.asarray(counts, np.float64)
        if sums.shape != (n, n, X.shape[1]) or counts.shape != (n, n):
            raise ValueError(
                f"pair_sums must be ({n}, {n}, {X.shape[1]}) and pair_counts ({n}, {n}); got "
                f"{sums.shape} and {counts.shape}"
            )
        keep = self.classes_
        self.pair_sums_ = sums[np.ix_(keep, keep)]
        self.pair_counts_ = counts[np.ix_(keep, keep)]

    def _scores(self, X: np.ndarray) -> np.ndarray:
        features = l2_normalize(X).astype(np.float64)
        cosines = features @ self.text_.T
        k = min(self.top_k, cosines.shape[1])
        scores = cosines / self.temperature
        margin = (2.0 - cosines.min()) / self.temperature  # lifts the re-ranked above the rest
        for row, top in enumerate(np.argsort(-cosines, axis=1, kind="stable")[:, :k]):
            # mean of i's descriptions against the other top-k classes (i vs i has none)
            sums = self.pair_sums_[np.ix_(top, top)].sum(axis=1)  # (k, d)
            counts = self.pair_counts_[np.ix_(top, top)].sum(axis=1)
            embedding = np.where(counts[:, None] > 0, l2_normalize(sums), self.text_[top])
            scores[row, top] = features[row] @ embedding.T / self.temperature + margin
        return scores


register_head("fudd", FuDD)
