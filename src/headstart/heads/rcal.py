"""`RCAL`: a head for noisy, long-tailed labels from representation calibration (Zhang et al.,
ICCV 2023), on frozen features.

RCAL assumes each class's clean features are Gaussian and recovers that Gaussian from polluted
data, then trains the classifier on real features plus features sampled from it:
1. likely-clean items: within each given label, the Local Outlier Factor (`n_neighbors` 20,
   the paper's choice of outlier detector) drops the items whose local density is far below
   their neighbours' — mislabelled items sit among another class's items;
2. robust statistics: each class's mean and covariance from its kept items;
3. tail calibration: a class with fewer kept items than the median class borrows covariance
   from its `k` nearest head classes (by distance between means): its covariance becomes the
   mean of its own and theirs, plus `alpha` × the average per-dimension variance on the
   diagonal — a handful of items cannot estimate a d × d covariance, their centre they can;
4. every class is topped up with features sampled from its recovered Gaussian to the size of
   the largest class, and the `base` head is trained on kept real + sampled features.
Covariances are never formed: a class's Gaussian is sampled as its mean plus centred items
mixed by Gaussian weights (exactly N(μ, ZᵀZ/n)), so memory stays O(n·d). The paper's fourth
part, a regulariser keeping fine-tuned features near the contrastive ones, needs a trainable
encoder and is not here. No official code was found; settings above are ours where the paper
text leaves them open.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.neighbors import LocalOutlierFactor

from headstart.heads.base import Head
from headstart.heads.registry import HEADS, register_head
from headstart.heads.tags import HeadTags


class RCAL(Head):
    """Noisy long-tail training: LOF-cleaned class Gaussians, tail covariances borrowed from
    near head classes, a `base` head fitted on real + sampled features.

    `base` a registered head name and `base_params` its parameters; `n_neighbors` of the LOF;
    `k` head classes lend covariance to each tail class; `alpha` the diagonal added, relative
    to the mean variance; `seed` for the sampled features.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="robust")

    def __init__(
        self,
        base: str = "linear-probe",
        base_params: dict | None = None,
        n_neighbors: int = 20,
        k: int = 2,
        alpha: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.n_neighbors = n_neighbors
        self.k = k
        self.alpha = alpha
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if HEADS.entry(self.base)[0].factory is RCAL:
            raise ValueError("RCAL's base head cannot be RCAL itself")
        if self.n_neighbors < 1 or self.k < 0 or self.alpha < 0:
            raise ValueError(
                f"n_neighbors must be ≥ 1, k ≥ 0 and alpha ≥ 0; got {self.n_neighbors}, "
                f"{self.k}, {self.alpha}"
            )
        kept = self.likely_clean(X, y)
        self.kept_ = kept
        X_real, y_real = X[kept], y[kept]
        sampled_X, sampled_y = self._sampled(X_real.astype(np.float64), y_real)
        self.sampled_ = np.bincount(sampled_y, minlength=len(self.classes_))
        features = np.vstack([X_real, sampled_X.astype(X.dtype)])
        labels = np.concatenate([y_real, sampled_y])
        self.head_ = HEADS.create(self.base, **(self.base_params or {})).fit(features, labels)

    def likely_clean(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mask of items the LOF keeps within their label (classes of < 3 items: all kept)."""
        kept = np.ones(len(y), dtype=bool)
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            if len(rows) < 3:
                continue
            lof = LocalOutlierFactor(n_neighbors=min(self.n_neighbors, len(rows) - 1))
            kept[rows] = lof.fit_predict(X[rows]) == 1
        return kept

    def _sampled(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = np.bincount(y, minlength=len(self.classes_))
        means = np.stack([X[y == c].mean(0) if n else X.mean(0) for c, n in enumerate(counts)])
        centred = [X[y == c] - means[c] for c in range(len(counts))]
        spread = np.mean([z.var(axis=0).mean() for z in centred if len(z) > 1] or [1.0])
        head = np.flatnonzero(counts >= np.median(counts))
        rng = np.random.default_rng(self.seed)
        out_X, out_y = [], []
        for c in range(len(counts)):
            missing = int(counts.max() - counts[c])
            if missing == 0:
                continue
            lenders = [c]
            if counts[c] < np.median(counts) and self.k:
                others = head[head != c]
                distance = np.linalg.norm(means[others] - means[c], axis=1)
                lenders += others[np.argsort(distance)[: self.k]].tolist()
            draw = np.zeros((missing, X.shape[1]))
            for lender in lenders:  # a sum of independent Gaussians: covariances average
                z = centred[lender]
                if len(z) > 1:
                    weights = rng.standard_normal((missing, len(z))) / np.sqrt(len(z))
                    draw += weights @ z / np.sqrt(len(lenders))
            draw += rng.standard_normal(draw.shape) * np.sqrt(self.alpha * spread)
            out_X.append(means[c] + draw)
            out_y.append(np.full(missing, c))
        if not out_X:
            return np.empty((0, X.shape[1])), np.empty(0, dtype=np.int64)
        return np.vstack(out_X), np.concatenate(out_y)

    def _scores(self, X: np.ndarray) -> np.ndarray:
        return self.head_._scores(X)


register_head("rcal", RCAL)
