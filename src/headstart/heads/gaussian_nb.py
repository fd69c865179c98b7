"""`GaussianNB`: naive Bayes with one diagonal variance shared by all classes.

As in "Revisiting discriminative vs. generative classifiers" (Zheng et al., ICML 2023): per-class
means μ_k, per-class variances averaged with the class priors into σ²_d (+ ε), and logits
log π_k − ½ Σ_d (x_d − μ_kd)² / σ²_d — a linear classifier, so it is scored as one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from headstart.heads.base import LinearHead
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags


class GaussianNB(LinearHead):
    """Gaussian naive Bayes with a shared diagonal variance (a linear generative classifier).

    `var_smoothing` is the ε added to every variance (1e-9 as in the paper's code).
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="generative")

    def __init__(self, var_smoothing: float = 1e-9) -> None:
        self.var_smoothing = var_smoothing

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        k = len(self.classes_)
        counts = np.bincount(y, minlength=k).astype(np.float64)
        self.class_prior_ = counts / counts.sum()
        self.theta_ = np.stack([X[y == c].mean(axis=0, dtype=np.float64) for c in range(k)])
        per_class = np.stack([X[y == c].var(axis=0, dtype=np.float64) for c in range(k)])
        self.var_ = self.class_prior_ @ per_class + self.var_smoothing
        # expand −½ Σ (x − μ)²/σ² and drop the x-only term, equal for all classes
        self.coef_ = self.theta_ / self.var_
        self.intercept_ = np.log(self.class_prior_) - 0.5 * np.sum(
            self.theta_**2 / self.var_, axis=1
        )


register_head("gaussian-nb", GaussianNB)
