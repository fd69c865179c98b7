"""`Lbl2Vec`: unsupervised text classification from class keywords (Schopf et al., 2022).

Lbl2TransformerVec: each class starts from a seed, the mean embedding of its keywords (the
rows of `class_embeddings`, e.g. from `headstart.prompts.description_embeddings`). The
unlabelled documents whose cosine to the seed is strictly above (best cosine − `offset`)
are chosen; when fewer than `min_docs` are, the `min_docs` closest are; at most `max_docs`.
As in the official code, the label vector is the centroid of those documents alone (the
seed only finds them). Documents are then classified by cosine to the label vectors. No
labels are used. (The official code also cuts the candidate list to its first `max_docs`
documents before ranking them; here `max_docs` caps the ranked list.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.utils.validation import validate_data

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.zero_shot import text_rows


def label_vectors(
    seeds: np.ndarray, documents: np.ndarray, offset: float, min_docs: int, max_docs: int | None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Label vectors (K, d) and each class's chosen documents, from normalised inputs."""
    cosines = documents @ seeds.T  # (n, K)
    vectors, members = [], []
    for k in range(len(seeds)):
        order = np.argsort(-cosines[:, k], kind="stable")
        above = int((cosines[:, k] > cosines[order[0], k] - offset).sum())
        count = min_docs if above < min_docs else above
        count = min(count, max_docs) if max_docs is not None else count
        chosen = order[:count]
        vectors.append(documents[chosen].mean(axis=0))
        members.append(chosen)
    return l2_normalize(np.stack(vectors)), members


class Lbl2Vec(Head):
    """Keyword seeds refined by their nearest unlabelled documents; cosine classifier.

    `fit(X, y=None)`: X are the (unlabelled) documents; labels, if given, are ignored
    except −1/class-index checks. Classes are the rows of `class_embeddings`.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(
            super().__headstart_tags__(),
            family="text",
            label_free=True,
            transductive=True,
            text_conditioned=True,
        )

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        offset: float = 0.0,
        min_docs: int = 1,
        max_docs: int | None = None,
        temperature: float = 0.01,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.offset = offset
        self.min_docs = min_docs
        self.max_docs = max_docs
        self.temperature = temperature

    def fit(self, X: Any, y: Any = None) -> Lbl2Vec:
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if self.class_embeddings is None:
            raise ValueError("Lbl2Vec needs class_embeddings: the keyword seed of every class")
        if self.offset < 0 or self.min_docs < 1:
            raise ValueError(
                f"offset must be ≥ 0 and min_docs ≥ 1; got {self.offset} and {self.min_docs}"
            )
        self.classes_ = np.arange(len(np.asarray(self.class_embeddings)))
        seeds = text_rows(self.class_embeddings, self.classes_, X.shape[1])
        self.label_vectors_, members = label_vectors(
            seeds, l2_normalize(X).astype(np.float64), self.offset, self.min_docs, self.max_docs
        )
        self.documents_per_class_ = np.array([len(m) for m in members])
        return self

    def _scores(self, X: np.ndarray) -> np.ndarray:
        cosines = l2_normalize(X) @ self.label_vectors_.T.astype(X.dtype)
        return cosines.astype(np.float64) / self.temperature


register_head("lbl2vec", Lbl2Vec)
