"""Open-set scores: how unlike the known classes an input is (higher = more likely unknown).

A scorer is composed with any fitted head (or a pipeline ending in one) and the support set
the head was fitted on: `create_score("mls").fit(model, X, y).score(X_test)`. Scores that
read the head use its per-class logits (`Head.scores`); the others measure distances in the
head's input space (after a pipeline's transforms). Every score is a function of the fitted
state and the item alone: an item scores the same in any batch. Each follows its paper:

- msp: −max_k softmax(z)_k (Hendrycks & Gimpel 2017);
- mls: −max_k z_k, the raw maximum logit (Vaze et al. 2022; official `use_softmax=False`);
- energy: −T·log Σ_k exp(z_k / T), the free energy (Liu et al. 2020), T = 1;
- mahalanobis: min_k (x − μ_k)ᵀ Σ̃⁻¹ (x − μ_k) (Lee et al. 2018) with GDA's shared shrunk
  covariance Σ̃ (a plain covariance is singular with few shots);
- relative-mahalanobis: min_k [MD_k(x) − MD_0(x)], MD_0 under one Gaussian of all support
  items (Ren et al. 2021), both with the same shrinkage;
- knn: the k-th smallest cosine distance 1 − cos(x, s) to the support items (Sun et al.
  2022, unit-normalised features); k = "auto" scales the paper's CIFAR-10 setting (k = 50
  of 50,000 items) with the support set, see `knn_k`;
- gda-likelihood: −log Σ_k π_k N(x; μ_k, Σ̃) up to the additive constant ½ log|2πΣ̃|, which
  is the same for every x (so ranks and every metric are unchanged).

One shot per class (no within-class scatter) is outside the papers, which estimate Σ from
many items per class. Our variant: Σ̃ = (τ/D)·I, τ = Σ_i ‖x_i − x̄‖²/(N − 1) the total
variance of the support set around its grand mean — the covariance GDA's head uses at one
shot, fixed at fit. A support set without any spread is refused.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp, softmax

from headstart.exceptions import DataError
from headstart.heads.gda import shrunk_precision_times
from headstart.heads.views import final_step, head_inputs
from headstart.registry import Registry
from headstart.vector_index import ivf_index, principal_basis, unit_rows

OPEN_SET_SCORES: Registry[Any] = Registry("open-set score")
KNN_BATCH = 2048  # query rows per block of the kNN distance matrix
GAUSSIAN_VARIANT = (
    "GDA's shrunk shared covariance (the papers: the empirical tied covariance); at one shot "
    "per class, the isotropic total variance of the support set (the papers need many items)"
)
KNN_ITEMS_PER_NEIGHBOUR = 1_000  # Sun et al. 2022 on CIFAR-10: k = 50 of 50,000 items


def knn_k(n_support: int) -> int:
    """k for `k="auto"`: one neighbour per 1,000 support items (rounded half up, at least
    one) — the paper's k = 50 on CIFAR-10's 50,000; ImageNet-1k's 1,281,167 items give
    1,281 where the paper used 1,000; few-shot support sets (under 1,500 items) give 1."""
    return max(1, (n_support + KNN_ITEMS_PER_NEIGHBOUR // 2) // KNN_ITEMS_PER_NEIGHBOUR)


def features(model: Any, X: np.ndarray) -> np.ndarray:
    """X as the model's final head sees it, in float64."""
    return np.asarray(head_inputs(model, X), dtype=np.float64)


def logits(model: Any, X: np.ndarray) -> np.ndarray:
    """Per-class logits of a fitted head; a clear error for models without them."""
    head = final_step(model)
    if not hasattr(head, "scores"):
        raise ValueError(
            f"{type(head).__name__} has no per-class scores; logit-based open-set scores need "
            "a headstart head"
        )
    return np.asarray(head.scores(features(model, X)), dtype=np.float64)


class OpenSetScore:
    """Base: `fit(model, X, y)` with the support set, then `score(X)` (higher = unknown)."""

    name = ""

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray) -> OpenSetScore:
        self.model_ = model
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@OPEN_SET_SCORES.register("msp", "−max softmax probability (Hendrycks & Gimpel 2017)")
class MaxSoftmax(OpenSetScore):
    name = "msp"

    def score(self, X: np.ndarray) -> np.ndarray:
        return -softmax(logits(self.model_, X), axis=1).max(axis=1)


@OPEN_SET_SCORES.register("mls", "−max raw logit (Vaze et al. 2022)")
class MaxLogit(OpenSetScore):
    name = "mls"

    def score(self, X: np.ndarray) -> np.ndarray:
        return -logits(self.model_, X).max(axis=1)


@OPEN_SET_SCORES.register("energy", "free energy −T log Σ exp(z/T) (Liu et al. 2020)")
class Energy(OpenSetScore):
    name = "energy"

    def __init__(self, temperature: float = 1.0) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def score(self, X: np.ndarray) -> np.ndarray:
        t = self.temperature
        return -t * logsumexp(logits(self.model_, X) / t, axis=1)


class _Gaussian(OpenSetScore):
    """Class means and GDA's shrunk shared precision, estimated from the support set. The
    precision is prepared once at fit: the Cholesky factor of S + λI when there are at least
    as many support rows as features, else the centred rows for the Woodbury solve; with no
    scatter at all (one item per class), the isotropic D/τ·I of the module docstring."""

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray) -> OpenSetScore:
        self.model_ = model
        x = torch.as_tensor(features(model, X))
        classes, index = np.unique(np.asarray(y), return_inverse=True)
        onehot = torch.nn.functional.one_hot(torch.as_tensor(index), len(classes)).double()
        counts = onehot.sum(0)
        self.means_ = (onehot.T @ x) / counts[:, None]
        self.priors_ = counts / counts.sum()
        self._prepare("class_", x - self.means_[torch.as_tensor(index)], x)
        return self

    def _prepare(self, prefix: str, centred: torch.Tensor, support: torch.Tensor) -> None:
        n, d = centred.shape
        if not (centred != 0).any():  # no scatter: Σ̃ = (τ/D)·I from the whole support set
            spread = support - support.mean(0, keepdim=True)
            tau = float((spread * spread).sum()) / max(len(support) - 1, 1)
            if tau == 0:
                raise DataError(
                    f"X: the support set has no spread: all {len(support)} support items are "
                    f"identical, so {self.name} cannot estimate a covariance"
                )
            setattr(self, f"{prefix}isotropic_", torch.tensor(d / tau, dtype=torch.float64))
            return
        if n >= d:
            big = n * d > 10_000_000  # float32 products for large support sets, then float64
            c = centred.float() if big else centred
            scatter = (c.T @ c).double()
            ridge = torch.trace(scatter) / max(n - 1, 1)
            if ridge > 0:
                eye = torch.eye(d, dtype=scatter.dtype)
                setattr(self, f"{prefix}cholesky_", torch.linalg.cholesky(scatter + ridge * eye))
                setattr(self, f"{prefix}rows_", torch.tensor(float(n)))
                return
        setattr(self, f"{prefix}centred_", centred)

    def _precision_times(self, prefix: str, targets: torch.Tensor) -> torch.Tensor:
        isotropic = getattr(self, f"{prefix}isotropic_", None)
        if isotropic is not None:  # Σ̃⁻¹ = D/τ·I
            return isotropic * targets
        cholesky = getattr(self, f"{prefix}cholesky_", None)
        if cholesky is not None:  # Σ̃⁻¹ = (N − 1)(S + λI)⁻¹
            return (getattr(self, f"{prefix}rows_") - 1) * torch.cholesky_solve(targets, cholesky)
        return shrunk_precision_times(getattr(self, f"{prefix}centred_"), targets, "likelihood")

    def _distances(self, X: np.ndarray, means: torch.Tensor, prefix: str = "class_"):
        """(x − μ_k)ᵀ P (x − μ_k) for every row and mean: xᵀPx − 2 xᵀPμ_k + μ_kᵀPμ_k."""
        x = torch.as_tensor(features(self.model_, X))
        p_means = self._precision_times(prefix, means.T)  # (d, K)
        p_x = self._precision_times(prefix, x.T)  # (d, n)
        quadratic = (x.T * p_x).sum(0)[:, None]
        return (quadratic - 2 * x @ p_means + (means.T * p_means).sum(0)[None, :]).numpy()


@OPEN_SET_SCORES.register(
    "mahalanobis", "min Mahalanobis distance to a class mean (Lee 2018)", variant=GAUSSIAN_VARIANT
)
class Mahalanobis(_Gaussian):
    name = "mahalanobis"

    def score(self, X: np.ndarray) -> np.ndarray:
        return self._distances(X, self.means_).min(axis=1)


@OPEN_SET_SCORES.register(
    "relative-mahalanobis",
    "min class Mahalanobis minus the background's (Ren et al. 2021)",
    variant=GAUSSIAN_VARIANT,
)
class RelativeMahalanobis(_Gaussian):
    name = "relative-mahalanobis"

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray) -> OpenSetScore:
        super().fit(model, X, y)
        x = torch.as_tensor(features(model, X))
        self.background_mean_ = x.mean(0, keepdim=True)
        self._prepare("background_", x - self.background_mean_, x)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        own = self._distances(X, self.means_)
        background = self._distances(X, self.background_mean_, "background_")
        return (own - background).min(axis=1)


@OPEN_SET_SCORES.register(
    "gda-likelihood",
    "−log of the GDA mixture density (up to a constant)",
    variant="at one shot per class, the isotropic total variance of the support set",
)
class GDALikelihood(_Gaussian):
    name = "gda-likelihood"

    def score(self, X: np.ndarray) -> np.ndarray:
        distances = self._distances(X, self.means_)
        return -logsumexp(np.log(self.priors_.numpy())[None, :] - 0.5 * distances, axis=1)


@OPEN_SET_SCORES.register("knn", "k-th nearest cosine distance to the support set (Sun 2022)")
class KNNDistance(OpenSetScore):
    """`k`: "auto" (one neighbour per 1,000 support items, the paper's CIFAR-10 share, see
    `knn_k`) or a fixed integer. `index` "exact": every query against every support item,
    in batches (torch); "ivf": FAISS's inverted-file index over unit vectors (inner
    product), `lists` k-means cells trained on a fixed subsample, `probes` cells searched
    per query — approximate (the `[index]` extra). The index is rebuilt from the support
    vectors when needed, so a saved scorer holds plain arrays only. `dims`: inner products
    taken in the top `dims` directions of the support's unit vectors (a truncated SVD of
    their second moment, not centred, so projected inner products approximate the
    cosines) — fewer products, an approximation to measure before use."""

    name = "knn"

    def __init__(
        self,
        k: int | str = "auto",
        index: str = "exact",
        lists: int = 128,
        probes: int = 8,
        dims: int | None = None,
    ):
        if k != "auto" and (not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1):
            raise ValueError(f"k must be 'auto' or an integer of at least 1, got {k!r}")
        if index not in ("exact", "ivf"):
            raise ValueError(f"index must be 'exact' or 'ivf', got {index!r}")
        if dims is not None and dims < 1:
            raise ValueError(f"dims must be at least 1, got {dims}")
        self.k, self.index, self.lists, self.probes, self.dims = k, index, lists, probes, dims

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray) -> OpenSetScore:
        self.model_ = model
        support = features(model, X)
        if self.k != "auto" and self.k > len(support):
            raise ValueError(f"k = {self.k} exceeds the {len(support)} support items")
        unit = torch.as_tensor(unit_rows(support), dtype=torch.float32)
        if self.dims is not None and self.dims < unit.shape[1]:
            self.basis_ = principal_basis(unit, self.dims)
            unit = unit @ self.basis_
        self.support_ = unit.contiguous()
        self._faiss = None
        return self

    @property
    def k_(self) -> int:
        """The k in use, derived from the saved support set (so a loaded scorer agrees)."""
        return knn_k(len(self.support_)) if self.k == "auto" else int(self.k)

    def _queries(self, X: np.ndarray) -> np.ndarray:
        queries = torch.as_tensor(unit_rows(features(self.model_, X)), dtype=torch.float32)
        basis = getattr(self, "basis_", None)
        return (queries if basis is None else queries @ basis).numpy()

    def score(self, X: np.ndarray) -> np.ndarray:
        queries = self._queries(X)
        if self.index == "ivf":
            similarity, _ = self._ivf().search(np.ascontiguousarray(queries), self.k_)
            return 1.0 - similarity[:, -1].astype(np.float64)
        queries = torch.as_tensor(queries)
        out = np.empty(len(queries))
        for start in range(0, len(queries), KNN_BATCH):
            similarity = queries[start : start + KNN_BATCH] @ self.support_.T
            kth = torch.topk(similarity, self.k_, dim=1).values[:, -1]  # k-th largest cosine
            out[start : start + KNN_BATCH] = (1.0 - kth).double().numpy()
        return out

    def _ivf(self) -> Any:
        if getattr(self, "_faiss", None) is None:
            self._faiss = ivf_index(
                self.support_.numpy(), self.lists, self.probes, "knn with index='ivf'"
            )
        return self._faiss


def create_score(name: str, **options: Any) -> OpenSetScore:
    """An unfitted open-set scorer by registered name (close names suggested)."""
    return OPEN_SET_SCORES.create(name, **options)
