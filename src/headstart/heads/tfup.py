"""`TFUP`: training-free unsupervised prompt adaptation (Long et al., 2024).

From unlabelled target features, build a pseudo-labelled cache and add its logits to zero-shot:
1. p = softmax(10·f·Tᵀ) for every unlabelled item;
2. per class c, the 2K items with the highest p_c are candidates; the K with the smallest
   Σ_m KL(p_j ‖ p_m) over the candidates (the most prototypical) enter the cache with label c,
   K = clip(⌊0.3·N/C⌋, 9, 16);
3. multi-level similarity A = cos(f, F_cache) ⊙ s_KL with s_KL = 2·(1 − minmax(zscore(
   KL(p_f ‖ p_cache)))) along each query's row;
4. logits = s·f·Tᵀ + α·exp(−β(1 − A))·L_cache, α = 0.3, β = 1 (the paper's values, fixed:
   nothing is tuned, so no labels are needed at all).
Labelled items (scikit-learn's semi-supervised convention: label −1 = unlabelled) join the
cache with their true labels.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from scipy.special import log_softmax
from sklearn.utils.validation import validate_data

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.zero_shot import text_rows

UNLABELLED = -1


def kl_matrix(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """KL(p_i ‖ q_j) for every pair of rows (n, m), from log-probabilities."""
    p = np.exp(log_p)
    return (p * log_p).sum(1, keepdims=True) - p @ log_q.T


def kl_similarity(kl: np.ndarray) -> np.ndarray:
    """2·(1 − minmax(zscore(kl))) along each row: 2 for the closest cache item, 0 for the
    farthest (a row with no spread gets 1 everywhere)."""
    z = (kl - kl.mean(1, keepdims=True)) / np.maximum(kl.std(1, keepdims=True), 1e-12)
    low, high = z.min(1, keepdims=True), z.max(1, keepdims=True)
    scaled = np.where(high > low, (z - low) / np.maximum(high - low, 1e-12), 0.5)
    return 2.0 * (1.0 - scaled)


def pseudo_labelled_cache(log_p: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, pseudo-labels) of the K most prototypical top-2K items of each class."""
    rows, labels = [], []
    for c in range(log_p.shape[1]):
        candidates = np.argsort(-log_p[:, c], kind="stable")[: 2 * per_class]
        spread = kl_matrix(log_p[candidates], log_p[candidates]).sum(1)
        keep = candidates[np.argsort(spread, kind="stable")[:per_class]]
        rows.append(keep)
        labels.append(np.full(len(keep), c))
    return np.concatenate(rows), np.concatenate(labels)


class TFUP(Head):
    """Zero-shot plus a cache pseudo-labelled from unlabelled data (label −1).

    `fit(X, y)`: X are target features, y their labels or −1 (y may be omitted: all
    unlabelled). Classes are the rows of `class_embeddings`. `per_class` overrides K.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(
            super().__headstart_tags__(),
            family="adapter",
            label_free=True,
            transductive=True,
            text_conditioned=True,
        )

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        alpha: float = 0.3,
        beta: float = 1.0,
        per_class: int | None = None,
        pseudo_label_scale: float = 10.0,
        logit_scale: float = 100.0,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.alpha = alpha
        self.beta = beta
        self.per_class = per_class
        self.pseudo_label_scale = pseudo_label_scale
        self.logit_scale = logit_scale

    def fit(self, X: Any, y: Any = None) -> TFUP:
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if self.class_embeddings is None:
            raise ValueError("TFUP needs class_embeddings: one text embedding per class")
        n_classes = len(np.asarray(self.class_embeddings))
        y = np.full(len(X), UNLABELLED) if y is None else np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"{len(y)} labels for {len(X)} items")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < UNLABELLED or y.max() >= n_classes:
            raise ValueError(f"labels must be −1 (unlabelled) or class indices 0..{n_classes - 1}")
        self.classes_ = np.arange(n_classes)
        self.text_ = text_rows(self.class_embeddings, self.classes_, X.shape[1])
        features = l2_normalize(X)
        labelled = y != UNLABELLED
        pool = np.flatnonzero(~labelled)
        rows, pseudo = np.empty(0, np.int64), np.empty(0, np.int64)
        if len(pool):
            k = self.per_class or int(np.clip(0.3 * len(pool) / n_classes, 9, 16))
            log_p = self._log_p(features[pool])
            chosen, pseudo = pseudo_labelled_cache(log_p, min(k, len(pool)))
            rows = pool[chosen]
        rows = np.concatenate([np.flatnonzero(labelled), rows])
        cache_labels = np.concatenate([y[labelled], pseudo]).astype(np.int64)
        self.keys_ = features[rows]
        self.values_ = np.eye(n_classes)[cache_labels]
        self.cache_log_p_ = self._log_p(self.keys_)
        self.n_pseudo_labelled_ = len(pseudo)
        return self

    def _log_p(self, features: np.ndarray) -> np.ndarray:
        cosines = (features @ self.text_.T.astype(features.dtype)).astype(np.float64)
        return log_softmax(self.pseudo_label_scale * cosines, axis=1)

    def _scores(self, X: np.ndarray) -> np.ndarray:
        features = l2_normalize(X)
        cosines = (features @ self.text_.T.astype(features.dtype)).astype(np.float64)
        affinity = (features @ self.keys_.T.astype(features.dtype)).astype(np.float64)
        log_p = log_softmax(self.pseudo_label_scale * cosines, axis=1)
        affinity *= kl_similarity(kl_matrix(log_p, self.cache_log_p_))
        cache = np.exp(-self.beta * (1.0 - affinity)) @ self.values_
        return self.logit_scale * cosines + self.alpha * cache


register_head("tfup", TFUP)
