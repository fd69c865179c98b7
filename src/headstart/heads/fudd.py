"""`FuDD`: follow-up differential descriptions (Esfandiarpoor & Bach, ICLR 2024).

1. Zero-shot with the template embeddings picks each query's top-k ambiguous classes S.
2. For every pair of classes, differential descriptions say what an {i} has that a {j} has
   not (precomputed by an LLM and stored as JSON; see `headstart.prompts`). Class i's
   prompts given S are, as in the official `PromptFactory`: for each other class j of S,
   i's descriptions against j, or — where that pair has none — i's template; duplicates
   counted once. Its embedding is the normalised mean of those prompts' embeddings.
3. The top-k are re-ranked by cosine to these embeddings; classes outside the top-k keep
   their zero-shot order below them.
Inputs: the normalised embeddings of each class's distinct descriptions (M, d), the class
that owns each (M,), and against which classes each was written (M, K).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.zero_shot import text_rows


class FuDD(Head):
    """Zero-shot re-ranked within each query's top-k by differential descriptions.

    `differential[m]` embeds one distinct description of class `differential_classes[m]`;
    `differential_against[m, j]` is 1 when it was written against class j. Scores: re-ranked
    classes get 1/τ · cosine + a margin that keeps them above the rest; the others keep
    zero-shot cosines.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(
            super().__headstart_tags__(), family="text", label_free=True, text_conditioned=True
        )

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        differential: np.ndarray | None = None,
        differential_classes: np.ndarray | None = None,
        differential_against: np.ndarray | None = None,
        top_k: int = 10,
        temperature: float = 0.01,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.differential = differential
        self.differential_classes = differential_classes
        self.differential_against = differential_against
        self.top_k = top_k
        self.temperature = temperature

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.text_ = text_rows(self.class_embeddings, self.classes_, X.shape[1])
        n, d = len(np.asarray(self.class_embeddings)), X.shape[1]
        given = self.differential is not None
        vectors = np.asarray(self.differential, np.float64) if given else np.zeros((0, d))
        owners = np.asarray(self.differential_classes if given else [], np.int64)
        against = np.asarray(self.differential_against if given else np.zeros((0, n)))
        m = len(vectors)
        if vectors.shape != (m, d) or owners.shape != (m,) or against.shape != (m, n):
            raise ValueError(
                f"differential must be (M, {d}), differential_classes (M,) and "
                f"differential_against (M, {n}); got {vectors.shape}, {owners.shape} and "
                f"{against.shape}"
            )
        if m and (owners.min() < 0 or owners.max() >= n):
            raise ValueError(f"differential_classes must be class indices 0..{n - 1}")
        position = np.full(n, -1)
        position[self.classes_] = np.arange(len(self.classes_))
        kept = position[owners] >= 0
        self.differential_ = l2_normalize(vectors[kept]) if kept.any() else vectors[kept]
        self.differential_owner_ = position[owners[kept]]
        self.differential_against_ = (against[kept][:, self.classes_] > 0).astype(np.float64)

    def class_prompt_embedding(self, i: int, others: np.ndarray) -> np.ndarray:
        """Class i's embedding against the classes `others` (positions in `classes_`)."""
        mine = np.flatnonzero(self.differential_owner_ == i)
        cover = self.differential_against_[np.ix_(mine, others)] > 0  # (m_i, |others|)
        parts = [self.differential_[mine[cover.any(axis=1)]]]
        if len(others) and not cover.any(axis=0).all():  # a pair without descriptions
            parts.append(self.text_[i][None])
        prompts = np.concatenate(parts)
        return (
            l2_normalize(prompts.mean(axis=0, keepdims=True))[0] if len(prompts) else self.text_[i]
        )

    def _scores(self, X: np.ndarray) -> np.ndarray:
        features = l2_normalize(X).astype(np.float64)
        cosines = features @ self.text_.T
        k = min(self.top_k, cosines.shape[1])
        scores = cosines / self.temperature
        margin = (2.0 - cosines.min()) / self.temperature  # lifts the re-ranked above the rest
        for row, top in enumerate(np.argsort(-cosines, axis=1, kind="stable")[:, :k]):
            embedding = np.stack([self.class_prompt_embedding(i, top[top != i]) for i in top])
            scores[row, top] = features[row] @ embedding.T / self.temperature + margin
        return scores


register_head("fudd", FuDD)
