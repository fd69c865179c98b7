"""`GDA`: Gaussian discriminant analysis with one shared, shrunk covariance.

The "hard-to-beat baseline" of Wang et al. (ICLR 2024), without the CLIP text term. With
class means μ_k, the within-class scatter S = Σ_i (x_i − μ_{y_i})(x_i − μ_{y_i})ᵀ = (N−1)Σ and
D features, the paper shrinks the covariance to Σ̃ = Σ + tr(Σ)/(N−1)·I, i.e.
Σ̃ = (S + tr(Σ) I)/(N−1). Logits are x·w_k + b_k with w_k = P μ_k, b_k = log π_k − ½ μ_kᵀ P μ_k.

Two scales of P, chosen by `scale`:
- "likelihood" (default): P = Σ̃⁻¹, the precision of the shrunk covariance, so the logits are
  the Gaussian log-likelihood plus log π_k and priors and probabilities mean what they say;
- "paper": P = D·(S + tr(Σ) I)⁻¹ = D/(N−1)·Σ̃⁻¹, the official code's scaling, meant for an
  ensemble with CLIP logits whose weight α absorbs the scale (`gda-zero-shot`). Added to
  log π_k it is not a likelihood: on imbalanced classes the prior swamps the data term.
When N ≪ D the solve uses the Woodbury identity (an N×N system).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from headstart.heads.base import LinearHead
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.tensors import as_tensor, compute_dtype, product, to_numpy

SCALES = ("likelihood", "paper")


def shrunk_precision_times(
    centred: torch.Tensor, targets: torch.Tensor, scale: str = "paper"
) -> torch.Tensor:
    """P @ targets for the shrunk covariance Σ̃ = (S + λ I)/(N−1), S = centredᵀ centred,
    λ = tr(S)/(N−1): P = Σ̃⁻¹ (`scale="likelihood"`) or D (S + λ I)⁻¹ (`scale="paper"`).

    With no within-class spread at all (one sample per class) no covariance can be estimated.
    The paper scale then follows the official code, whose pinv of the zero matrix is 0 (P = 0:
    no discriminant term). The likelihood scale uses P = D/τ·I with τ the total variance of
    the targets (the class means), an isotropic Gaussian: nearest class mean.
    """
    n, d = centred.shape
    # S (n ≥ d) or the Gram matrix CCᵀ (n < d): either has trace tr(S)
    small = product(centred, centred.T) if n < d else product(centred.T, centred)
    ridge = torch.trace(small) / max(n - 1, 1)
    if ridge <= 0:
        if scale == "paper":
            return torch.zeros_like(targets)
        spread = targets - targets.mean(dim=1, keepdim=True)
        ridge = (spread * spread).sum() / max(targets.shape[1] - 1, 1) + 1e-12
        return d * targets / ridge
    factor = (n - 1) if scale == "likelihood" else d  # P = factor · (S + λI)⁻¹
    if n < d:  # (λI + CᵀC)⁻¹ = (I − Cᵀ(λI + CCᵀ)⁻¹C) / λ
        regularised = small + ridge * torch.eye(n, dtype=centred.dtype, device=centred.device)
        inner = torch.linalg.solve(regularised, centred @ targets)
        return factor * (targets - centred.T @ inner) / ridge
    scatter = small + ridge * torch.eye(d, dtype=centred.dtype, device=centred.device)
    cholesky = torch.linalg.cholesky(scatter)
    return factor * torch.cholesky_solve(targets, cholesky)


class GDA(LinearHead):
    """Shared-covariance Gaussian discriminant with the shrinkage of GDA (ICLR 2024).

    Parameters: `priors` "empirical" (class frequencies) or "uniform"; `scale` "likelihood"
    (the shrunk covariance's own precision) or "paper" (D/(N−1) times it, see the module
    docstring); `precision` "auto" (float64 for small data on CPU, float32 for large),
    "float64" or "float32"; `device`.
    """

    def __init__(
        self,
        priors: str = "empirical",
        scale: str = "likelihood",
        precision: str = "auto",
        device: str = "cpu",
        streaming: bool = False,
    ) -> None:
        self.priors = priors
        self.scale = scale
        self.precision = precision
        self.device = device
        self.streaming = streaming

    def __headstart_tags__(self) -> HeadTags:
        """With `streaming`, the pooled scatter and class counts are kept, so `extend` adds
        classes with the same estimates a fit on every class would give."""
        tags = super().__headstart_tags__()
        return replace(tags, family="generative", views=True, incremental=self.streaming)

    def _fit_views(self, X: np.ndarray, y: np.ndarray, views: np.ndarray) -> None:
        """Every augmented view is a sample of its item's class (the official GDA code
        estimates means and covariance from all augmentation epochs' features)."""
        n, n_views, d = views.shape
        self._fit(views.reshape(n * n_views, d), np.repeat(y, n_views))

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.priors not in ("empirical", "uniform"):
            raise ValueError(f"priors must be 'empirical' or 'uniform', got {self.priors!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        x = as_tensor(X, self.device, compute_dtype(self.precision, X, self.device))
        labels = torch.as_tensor(y, device=x.device)
        k = len(self.classes_)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        onehot = torch.nn.functional.one_hot(labels, k).to(x.dtype)
        means = (onehot.T @ x) / counts[:, None]  # a product: index_add_ is slow on CPU
        weights = shrunk_precision_times(x - means[labels], means.T, self.scale).T  # μ P
        priors = (
            counts / counts.sum()
            if self.priors == "empirical"
            else torch.full_like(counts, 1.0 / k)
        )
        self.means_ = to_numpy(means)
        self.coef_ = to_numpy(weights)
        self.intercept_ = to_numpy(torch.log(priors) - 0.5 * (weights * means).sum(dim=1))
        self.class_prior_ = to_numpy(priors)
        if self.streaming:
            centred = x - means[labels]
            self.scatter_ = to_numpy(centred.T @ centred)
            self.counts_ = to_numpy(counts)

    def _extend(self, X: np.ndarray, y_index: np.ndarray) -> None:
        """New classes' means and within-class scatter added to the pooled statistics; the
        shared precision and every class's weights are recomputed from them."""
        k = int(y_index.max()) + 1
        X = np.asarray(X, dtype=np.float64)
        means = np.stack([X[y_index == c].mean(0) for c in range(k)])
        centred = X - means[y_index]
        scatter = self.scatter_ + centred.T @ centred
        counts = np.r_[self.counts_, np.bincount(y_index, minlength=k)].astype(np.float64)
        all_means = np.vstack([self.means_, means])
        n, d = counts.sum(), scatter.shape[0]
        ridge = np.trace(scatter) / (n - 1)
        factor = (n - 1) if self.scale == "likelihood" else d
        weights = factor * np.linalg.solve(scatter + ridge * np.eye(d), all_means.T).T
        priors = counts / n if self.priors == "empirical" else np.full(len(counts), 1 / len(counts))
        self.means_, self.coef_, self.scatter_, self.counts_ = all_means, weights, scatter, counts
        self.intercept_ = np.log(priors) - 0.5 * (weights * all_means).sum(1)
        self.class_prior_ = priors


register_head("gda", GDA)
