"""L2-regularised linear classifiers fitted with full-batch L-BFGS, many problems at once.

Used by `LinearProbe` (multinomial cross-entropy) and `LinearSVM` (one-vs-rest squared hinge).
Each cross-validation fold is one problem in a batch: weights (F, D, K), a 0/1 mask (F, n) of
the rows it trains on. Fold f minimises

    (1/n_f) Σ_i m_fi ℓ(x_i W_f + b_f, y_i) + ‖W_f‖² / (2 C n_f),

scikit-learn's objective divided by C n_f (so the optimum is the same). The regularisation path
runs from strong to weak and each C starts from the previous solution (warm start). SciPy's
L-BFGS-B drives; losses and gradients are written out (no autograd) and run in torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from headstart.heads.tensors import as_tensor, to_numpy


def multinomial_loss(logits: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(F, n, K) logits → per-row cross-entropy (F, n) and its gradient wrt the logits."""
    log_p = torch.log_softmax(logits, dim=-1)
    return -(log_p * onehot).sum(dim=-1), log_p.exp() - onehot


def squared_hinge_loss(logits: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(F, n, K) margins → one-vs-rest Σ_k max(0, 1 − s_k z_k)² (F, n) and its gradient."""
    signs = 2.0 * onehot - 1.0
    slack = torch.clamp(1.0 - signs * logits, min=0.0)
    return slack.pow(2).sum(dim=-1), -2.0 * signs * slack


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]] = {
    "multinomial": multinomial_loss,
    "squared-hinge": squared_hinge_loss,
}


@dataclass
class PathResult:
    """Chosen C, its validation scores along the path, and the final weights."""

    C: float
    cv_scores: list[float]
    coef: np.ndarray  # (K, D)
    intercept: np.ndarray  # (K,)
    n_iter: int


def fit_batch(
    x: torch.Tensor,
    onehot: torch.Tensor,
    masks: torch.Tensor,
    C: float,
    loss: str,
    init: np.ndarray | None,
    max_iter: int,
    tol: float,
    penalty: torch.Tensor,
) -> tuple[np.ndarray, int]:
    """Minimise the objective above for every fold (row of `masks`) at one C.

    Folds are independent, so their objectives are summed and solved as one problem by
    SciPy's L-BFGS-B; loss and gradient are computed analytically in torch on `x`'s device.
    `x` holds preconditioned features (see `fit_path`), so the weight penalty is Σ_d p_d ‖V_d‖²
    with per-feature `penalty` p. Returns the flat solution (F·(D+1)·K values) and the
    number of iterations.
    """
    folds, dim, k = masks.shape[0], x.shape[1], onehot.shape[1]
    counts = masks.sum(dim=1)  # (F,)
    row_weight = (masks / counts[:, None])[..., None]  # (F, n, 1): each fold's rows weigh 1/n_f
    p = penalty[None, :, None]  # (1, D, 1)
    loss_fn = LOSSES[loss]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = torch.as_tensor(theta, dtype=x.dtype, device=x.device).view(folds, dim + 1, k)
        weight, bias = params[:, :dim], params[:, dim:]  # (F, D, K), (F, 1, K)
        per_row, d_logits = loss_fn(torch.matmul(x, weight) + bias, onehot)  # (F, n), (F, n, K)
        d_logits = d_logits * row_weight
        value = (per_row * masks).sum(dim=1) / counts
        value = value + (p * weight**2).sum(dim=(1, 2)) / (2.0 * C * counts)
        # (d_logitsᵀ x)ᵀ reads x row by row: several times faster than xᵀ d_logits
        grad_w = torch.matmul(d_logits.transpose(1, 2), x).transpose(1, 2)
        grad_w = grad_w + p * weight / (C * counts)[:, None, None]
        grad_b = d_logits.sum(dim=1, keepdim=True)
        grad = torch.cat([grad_w, grad_b], dim=1)
        return float(value.sum()), grad.reshape(-1).to("cpu", torch.float64).numpy()

    if x.device.type == "cpu":  # NumPy: far less overhead per call on small problems
        objective = _numpy_objective(
            x.numpy(), onehot.numpy(), masks.numpy(), penalty.numpy(), C, loss
        )
    start = np.zeros(folds * (dim + 1) * k) if init is None else init
    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "maxcor": 20},
    )
    return result.x, int(result.nit)


def _numpy_objective(
    x: np.ndarray, onehot: np.ndarray, masks: np.ndarray, penalty: np.ndarray, C: float, loss: str
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The same objective and gradient as in `fit_batch`, in NumPy (the CPU path)."""
    folds, dim, k = masks.shape[0], x.shape[1], onehot.shape[1]
    counts = masks.sum(axis=1)
    row_weight = (masks / counts[:, None])[..., None]
    p = penalty[None, :, None]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = theta.reshape(folds, dim + 1, k).astype(x.dtype, copy=False)
        weight, bias = params[:, :dim], params[:, dim:]
        logits = np.matmul(x, weight) + bias  # (F, n, K)
        if loss == "multinomial":
            shifted = logits - logits.max(axis=-1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            per_row, d_logits = -(log_p * onehot).sum(axis=-1), np.exp(log_p) - onehot
        else:
            signs = 2.0 * onehot - 1.0
            slack = np.maximum(1.0 - signs * logits, 0.0)
            per_row, d_logits = (slack**2).sum(axis=-1), -2.0 * signs * slack
        d_logits = d_logits * row_weight
        value = (per_row * masks).sum(axis=1) / counts
        value = value + (p * weight**2).sum(axis=(1, 2)) / (2.0 * C * counts)
        grad_w = np.matmul(x.T, d_logits) + p * weight / (C * counts)[:, None, None]
        grad_b = d_logits.sum(axis=1, keepdims=True)
        grad = np.concatenate([grad_w, grad_b], axis=1)
        return float(value.sum()), grad.reshape(-1).astype(np.float64)

    return objective


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
    dtype: torch.dtype | None = None,
) -> PathResult:
    """Choose C on inner splits of (X, y) only, then refit on all of it.

    The solver works on centred, rescaled features x̃ = (x − μ) s with weights
    V = W / s and bias c = b + μW: the same objective (the bias is not penalised and the
    penalty becomes Σ_d s_d² ‖V_d‖²) in coordinates where L-BFGS needs far fewer steps.
    """
    raw = as_tensor(X, device, dtype)
    mean = raw.mean(dim=0)
    variance = ((raw - mean) ** 2).mean(dim=0)
    # one global scale: per-feature standardisation gives near-constant features (common in
    # few-shot sets) huge penalty weights and makes the problem stiffer, not easier
    scale = torch.full_like(variance, 1.0 / float(torch.sqrt(variance.mean() + 1e-12)))
    x = (raw - mean) * scale
    penalty = scale**2  # ‖W_d‖² = s_d² ‖V_d‖²
    onehot = F.one_hot(torch.as_tensor(y, device=x.device), n_classes).to(x.dtype)
    dim = x.shape[1]
    train_masks = validation_folds(y, cv, holdout_above, seed)
    scores: list[float] = []
    best_C, best_init = (Cs[0] if len(Cs) == 1 else default_C), None
    if train_masks and len(Cs) > 1:
        masks = torch.as_tensor(np.stack(train_masks), dtype=x.dtype, device=x.device)
        held = 1.0 - masks
        state, best = None, -np.inf
        for C in sorted(Cs):
            # one solve per fold: a joint L-BFGS over all folds converges more slowly
            state = [
                fit_batch(
                    x,
                    onehot,
                    masks[f : f + 1],
                    C,
                    loss,
                    None if state is None else state[f],
                    max_iter,
                    tol,
                    penalty,
                )[0]
                for f in range(len(masks))
            ]
            params = torch.as_tensor(np.stack(state), dtype=x.dtype, device=x.device)
            params = params.view(len(masks), dim + 1, n_classes)
            logits = torch.matmul(x, params[:, :dim]) + params[:, dim:]
            if loss == "multinomial":  # mean held-out log-likelihood
                per_row = -multinomial_loss(logits, onehot)[0]
            else:  # held-out accuracy
                per_row = (logits.argmax(dim=-1) == onehot.argmax(dim=-1)).to(x.dtype)
            score = float(((per_row * held).sum(dim=1) / held.sum(dim=1)).mean())
            scores.append(score)
            if score > best + 1e-12:  # ties keep the stronger regularisation
                best, best_C = score, C
                best_init = to_numpy(params.mean(dim=0)).reshape(-1)
    everything = torch.ones(1, len(y), dtype=x.dtype, device=x.device)
    theta, steps = fit_batch(x, onehot, everything, best_C, loss, best_init, max_iter, tol, penalty)
    params = torch.as_tensor(theta, dtype=x.dtype, device=x.device).view(dim + 1, n_classes)
    weight = params[:dim] * scale[:, None]  # back to the raw features: W = s V
    bias = params[dim] - mean @ weight  # b = c − μ W
    return PathResult(best_C, scores, to_numpy(weight.T), to_numpy(bias), steps)
