"""L2-regularised linear classifiers fitted with full-batch L-BFGS, many problems at once.

Used by `LinearProbe` (multinomial cross-entropy) and `LinearSVM` (one-vs-rest squared hinge).
Each cross-validation fold is one problem in a batch: a 0/1 mask (F, n) of the rows it trains
on. Fold f minimises

    (1/n_f) Σ_i m_fi ℓ(x_i W_f + b_f, y_i) + ‖W_f‖² / (2 C n_f),

scikit-learn's objective divided by C n_f (so the optimum is the same). The solver works in
preconditioned eigen-coordinates (see `Coordinates`), where L-BFGS needs few steps whatever the
spectrum of the features, and where few-shot problems shrink from D to at most n − 1
dimensions. The regularisation path runs from strong to weak, warm-started. `minimize_lbfgs`
drives; losses and gradients are written out (no autograd), in NumPy on CPU, torch on GPUs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from headstart.heads.lbfgs import minimize_lbfgs
from headstart.heads.tensors import to_numpy

# curvature of each loss at the start (W = 0) per unit feature variance: softmax 1/K, hinge 2
CURVATURE: dict[str, Callable[[int], float]] = {
    "multinomial": lambda k: 1.0 / k,
    "squared-hinge": lambda k: 2.0,
}


def multinomial_loss(logits, onehot, xp=np):
    """(F, n, K) logits → per-row cross-entropy (F, n) and its gradient wrt the logits."""
    if xp is torch:
        log_p = torch.log_softmax(logits, dim=-1)
    else:
        shifted = logits - logits.max(-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -(log_p * onehot).sum(-1), xp.exp(log_p) - onehot


def squared_hinge_loss(logits, onehot, xp=np):
    """(F, n, K) margins → one-vs-rest Σ_k max(0, 1 − s_k z_k)² (F, n) and its gradient."""
    signs = 2.0 * onehot - 1.0
    slack = (1.0 - signs * logits).clip(min=0.0)
    return (slack * slack).sum(-1), -2.0 * signs * slack


LOSSES = {"multinomial": multinomial_loss, "squared-hinge": squared_hinge_loss}


@dataclass
class Coordinates:
    """Where the solver works: W = basis · diag(d) · V, b = β / √c, on centred features.

    `eigvals`/`basis` diagonalise the feature covariance (only its non-zero part: with n ≤ D
    the optimum lies in the span of the centred rows, so V has at most n − 1 rows). With the
    loss curvature c, d_j = (c λ_j + 1/(C n))^(−1/2) makes the Hessian near the identity at
    the start. `features` is either the centred data (large n: the basis is applied to V on
    each step) or its coordinates in the basis (small n: the basis is applied once).
    """

    features: object  # (n, D) centred data, or (n, r) projected
    basis: np.ndarray  # (D, r)
    projected: bool  # whether `features` are already in the basis
    eigvals: np.ndarray  # (r,)
    mean: np.ndarray  # (D,)
    curvature: float

    def scale(self, C: float, n: int) -> np.ndarray:
        return 1.0 / np.sqrt(self.curvature * self.eigvals + 1.0 / (C * n))

    def weights(self, V: np.ndarray, C: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw-feature weights (D, K) and bias (K,) of solver parameters V ((r+1), K)."""
        W = self.basis @ (V[:-1] * self.scale(C, n)[:, None])
        bias = V[-1] / np.sqrt(self.curvature) - self.mean @ W
        return W, bias

    def logits(self, V: np.ndarray, C: float) -> np.ndarray:
        """Logits (n, K) of the training rows under solver parameters V ((r+1), K)."""
        x = self.features
        W = V[:-1] * self.scale(C, x.shape[0])[:, None]
        if not self.projected:
            W = self.basis @ W
        if isinstance(x, torch.Tensor):
            W = torch.as_tensor(W, dtype=x.dtype, device=x.device)
        else:
            W = W.astype(x.dtype)
        return _np(x @ W) + V[-1] / np.sqrt(self.curvature)


def _np(array) -> np.ndarray:
    return to_numpy(array) if isinstance(array, torch.Tensor) else np.asarray(array, np.float64)


def coordinates(X: np.ndarray, loss: str, n_classes: int, device: str, dtype) -> Coordinates:
    """Centre X and diagonalise its covariance (by the n×n Gram matrix when n ≤ D)."""
    n, dim = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    centred = (X - mean.astype(X.dtype)).astype(dtype, copy=False)
    if n <= dim:
        gram = (centred @ centred.T).astype(np.float64) / n
        eigvals, vectors = np.linalg.eigh(gram)
        keep = eigvals > eigvals[-1] * 1e-10
        eigvals, vectors = eigvals[keep], vectors[:, keep]
        features = vectors * np.sqrt(n * eigvals)  # = centred @ basis
        basis = (centred.T.astype(np.float64) @ vectors) / np.sqrt(n * eigvals)
    else:
        cov = (centred.T @ centred).astype(np.float64) / n
        eigvals, basis = np.linalg.eigh(cov)
        eigvals = np.clip(eigvals, 0.0, None)
        features = centred
    features = features.astype(dtype, copy=False)
    if device != "cpu":
        features = torch.as_tensor(features, device=device)
    curvature = CURVATURE[loss](n_classes)
    return Coordinates(features, basis, n <= dim, eigvals, mean, curvature)


def _objective(coords: Coordinates, onehot, masks, C: float, loss: str):
    """Summed objective of all folds and its gradient, as a function of flat parameters."""
    x = coords.features
    basis = None if coords.projected else coords.basis
    torch_mode = isinstance(x, torch.Tensor)
    xp = torch if torch_mode else np
    n = x.shape[0]
    folds, r, k = masks.shape[0], len(coords.eigvals), onehot.shape[1]
    d = coords.scale(C, n)
    counts = masks.sum(1)
    row_weight = (masks / counts[:, None])[..., None]  # (F, n, 1): each fold's rows weigh 1/n_f
    penalty = (d**2)[None, :, None] / (C * counts)[:, None, None]  # (F, r, 1)
    bias_scale = float(1.0 / np.sqrt(coords.curvature))  # a Python float keeps float32 float32
    if torch_mode:
        cast = {"dtype": x.dtype, "device": x.device}
        d, counts, penalty = (torch.as_tensor(a, **cast) for a in (d, counts, penalty))
        onehot, masks, row_weight = (
            torch.as_tensor(a, **cast) for a in (onehot, masks, row_weight)
        )
        basis = None if basis is None else torch.as_tensor(basis, **cast)
    else:
        d, penalty = d.astype(x.dtype), penalty.astype(x.dtype)
        basis = None if basis is None else basis.astype(x.dtype)
        onehot, masks, row_weight = (a.astype(x.dtype) for a in (onehot, masks, row_weight))
    loss_fn = LOSSES[loss]

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = theta.reshape(folds, r + 1, k)
        params = torch.as_tensor(params, **cast) if torch_mode else params.astype(x.dtype)
        V, beta = params[:, :r], params[:, r:]  # (F, r, K), (F, 1, K)
        W = d[:, None] * V
        if basis is not None:
            W = basis @ W  # (F, D, K)
        per_row, d_logits = loss_fn(x @ W + beta * bias_scale, onehot, xp)
        d_logits = d_logits * row_weight
        value = (per_row * masks).sum(1) / counts + 0.5 * (penalty * V * V).sum((1, 2))
        grad_W = x.T @ d_logits  # (F, D or r, K)
        if basis is not None:
            grad_W = basis.T @ grad_W
        grad_V = d[:, None] * grad_W + penalty * V
        grad_beta = d_logits.sum(1, keepdims=True) * bias_scale
        grad = xp.concatenate([grad_V, grad_beta], 1)
        grad = to_numpy(grad) if torch_mode else grad.astype(np.float64)
        return float(value.sum()), grad.reshape(-1)

    return value_and_grad


def fit_batch(
    coords: Coordinates,
    onehot: np.ndarray,
    masks: np.ndarray,
    C: float,
    loss: str,
    init: np.ndarray | None,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int]:
    """Minimise the objective for every fold (row of `masks`) at one C.

    Folds are independent, so their objectives are summed and solved as one problem. Returns
    the solution (F, r+1, K) in the coordinates of this C and the number of iterations.
    """
    shape = (masks.shape[0], len(coords.eigvals) + 1, onehot.shape[1])
    start = np.zeros(shape) if init is None else init
    objective = _objective(coords, onehot, masks, C, loss)
    solution, steps = minimize_lbfgs(objective, start.reshape(-1), max_iter, tol)
    return solution.reshape(shape), steps


def validation_folds(y: np.ndarray, cv: int, holdout_above: int, seed: int) -> list[np.ndarray]:
    """Boolean train masks of the inner splits: stratified k-fold, or one 10% holdout for
    large training sets; empty when some class has fewer than two samples."""
    smallest = np.bincount(y).min()
    if smallest < 2:
        return []
    if len(y) > holdout_above:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.1, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=min(cv, smallest), shuffle=True, random_state=seed)
    masks = []
    for train, _ in splitter.split(np.zeros(len(y)), y):
        mask = np.zeros(len(y), bool)
        mask[train] = True
        masks.append(mask)
    return masks


@dataclass
class PathResult:
    """Chosen C, its validation scores along the path, and the final weights."""

    C: float
    cv_scores: list[float]
    coef: np.ndarray  # (K, D)
    intercept: np.ndarray  # (K,)
    n_iter: int


def _held_out_score(coords, params, onehot, held, C, loss) -> float:
    """Mean over folds of held-out log-likelihood (multinomial) or accuracy (hinge)."""
    scores = []
    for f in range(len(params)):
        logits = coords.logits(params[f], C)[held[f]]
        if loss == "multinomial":
            scores.append(-multinomial_loss(logits, onehot[held[f]])[0].mean())
        else:
            scores.append((logits.argmax(1) == onehot[held[f]].argmax(1)).mean())
    return float(np.mean(scores))


def fit_path(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    Cs: Sequence[float],
    default_C: float,
    loss: str,
    cv: int,
    holdout_above: int,
    seed: int,
    max_iter: int,
    tol: float,
    device: str,
    dtype,
) -> PathResult:
    """Choose C on inner splits of (X, y) only (warm-started from strong to weak
    regularisation), then refit on all of it from the chosen C's mean fold solution."""
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    coords = coordinates(X, loss, n_classes, device, np_dtype)
    n = len(y)
    onehot = np.eye(n_classes)[y]
    train_masks = validation_folds(y, cv, holdout_above, seed)
    scores: list[float] = []
    best_C, best_init = (Cs[0] if len(Cs) == 1 else default_C), None
    if train_masks and len(Cs) > 1:
        masks = np.stack(train_masks).astype(np.float64)
        state, previous, best = None, None, -np.inf
        for C in sorted(Cs):
            if state is not None:  # same weights W, new coordinates
                state[:, :-1] *= (coords.scale(previous, n) / coords.scale(C, n))[None, :, None]
            state, _ = fit_batch(coords, onehot, masks, C, loss, state, max_iter, tol)
            score = _held_out_score(coords, state, onehot, ~masks.astype(bool), C, loss)
            scores.append(score)
            if score > best + 1e-12:  # ties keep the stronger regularisation
                best, best_C, best_init = score, C, state.mean(axis=0, keepdims=True)
            previous = C
    everything = np.ones((1, n))
    params, steps = fit_batch(coords, onehot, everything, best_C, loss, best_init, max_iter, tol)
    weight, bias = coords.weights(params[0], best_C, n)
    return PathResult(best_C, scores, weight.T, bias, steps)
