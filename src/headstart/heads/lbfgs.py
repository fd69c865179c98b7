"""A small unconstrained L-BFGS for smooth convex objectives (Nocedal & Wright, Alg. 7.4/7.5).

Our linear heads solve thousands of small problems per k-shot grid; SciPy's L-BFGS-B spends
more time in its bound-handling bookkeeping than in our objective. Without bounds, the
two-loop recursion plus a backtracking Armijo search is all that is needed: the objectives
are convex (so every curvature pair has sᵀy ≥ 0) and preconditioned (so the unit step is
usually accepted at once).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def two_loop(grad: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """−H·grad for the L-BFGS inverse-Hessian estimate H built from (s, y, 1/sᵀy) pairs."""
    q = -grad
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * float(s @ q)
        q = q - alpha * y
        alphas.append(alpha)
    s, y, _ = pairs[-1]
    q = q * (float(s @ y) / float(y @ y))  # initial Hessian γI, γ = sᵀy / yᵀy
    for (s, y, rho), alpha in zip(pairs, reversed(alphas), strict=True):
        q = q + (alpha - rho * float(y @ q)) * s
    return q


def minimize_lbfgs(
    fun: Objective,
    x0: np.ndarray,
    max_iter: int = 300,
    gtol: float = 1e-4,
    memory: int = 10,
    ftol: float = 2.2e-9,
) -> tuple[np.ndarray, int]:
    """Minimise `fun` (returning value and gradient) from `x0`.

    Stops when the largest gradient entry is at most `gtol` (SciPy's `gtol`), when an
    iteration improves the value by less than `ftol` relative to it (SciPy's `factr`·eps), or
    after `max_iter` iterations. Returns the solution and the iterations taken.
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    value, grad = fun(x)
    pairs: list[tuple[np.ndarray, np.ndarray, float]] = []
    iteration = 0
    for iteration in range(1, max_iter + 1):
        if np.abs(grad).max() <= gtol:
            return x, iteration - 1
        if pairs:
            direction = two_loop(grad, pairs)
            step = 1.0
        else:  # first step: length one in the largest coordinate
            direction = -grad
            step = min(1.0, 1.0 / np.abs(grad).max())
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction (lost curvature): restart from the gradient
            pairs.clear()
            direction, slope, step = -grad, -float(grad @ grad), 1.0 / np.abs(grad).max()
        while True:  # backtracking to the Armijo condition
            candidate = x + step * direction
            new_value, new_grad = fun(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        if new_value > value:  # the search failed: x is as good as we can make it
            break
        s, y = candidate - x, new_grad - grad
        curvature = float(s @ y)
        if curvature > 1e-12 * float(y @ y):
            pairs.append((s, y, 1.0 / curvature))
            if len(pairs) > memory:
                pairs.pop(0)
        improvement = value - new_value
        x, value, grad = candidate, new_value, new_grad
        if improvement <= ftol * max(abs(value), abs(value + improvement), 1.0):
            break
    return x, iteration
