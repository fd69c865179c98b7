"""Representation metrics of any store (labels only where the metric says so):

- alignment (Wang & Isola 2020): E ‖f(x) − f(x⁺)‖^α over positive pairs, α = 2;
- uniformity (Wang & Isola; also Wang & Liu's L_U): log E exp(−t ‖f(x) − f(y)‖²) over all
  pairs x ≠ y, t = 2 — lower is more uniform;
- tolerance (Wang & Liu 2021): the mean f(x)ᵀf(y) over pairs of the same class — how close
  semantically similar items stay; exact, from per-class sums in O(n · d);
- separability: trace of the between-class scatter over trace of the within-class scatter.
All on unit-normalised rows, as the papers define them; uniformity subsamples pairs uniformly
(`pairs`) above a few thousand items so its cost stays O(pairs · d)."""

from __future__ import annotations

import numpy as np

from headstart.vector_index import unit_rows


def _pairs(n: int, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All i < j when there are at most `pairs` of them, else `pairs` random i ≠ j."""
    if n * (n - 1) // 2 <= pairs:
        return np.triu_indices(n, 1)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, n, pairs), rng.integers(0, n - 1, pairs)
    return i, j + (j >= i)  # never i itself


def alignment(X: np.ndarray, X_pos: np.ndarray, alpha: float = 2.0) -> float:
    """Mean ‖u − u⁺‖^α between each row and its positive."""
    u, v = unit_rows(np.asarray(X, float)), unit_rows(np.asarray(X_pos, float))
    return float((np.linalg.norm(u - v, axis=1) ** alpha).mean())


def uniformity(X: np.ndarray, t: float = 2.0, pairs: int = 200_000, seed: int = 0) -> float:
    """log of the mean Gaussian potential exp(−t‖u − v‖²) over pairs of distinct rows."""
    u = unit_rows(np.asarray(X, float))
    i, j = _pairs(len(u), pairs, seed)
    squared = ((u[i] - u[j]) ** 2).sum(axis=1)
    return float(np.log(np.mean(np.exp(-t * squared))))


def tolerance(X: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine similarity over all pairs of distinct rows with the same label (label < 0:
    unlabelled, left out).

    Wang & Liu write T = E[f(x)ᵀf(y) · 1(l(x) = l(y))] and describe it as the mean similarity
    of items of one class; this is that conditional mean, E[f(x)ᵀf(y) | l(x) = l(y)] (their
    formula divided by P(same class)), so a store with more classes is not scored as less
    tolerant. Exact: Σ_{i≠j in c} u_iᵀu_j = ‖Σ_{i in c} u_i‖² − Σ_{i in c} ‖u_i‖², so every
    same-class pair counts once whatever the class sizes.
    """
    u, labels = unit_rows(np.asarray(X, float)), np.asarray(labels)
    total, count = 0.0, 0
    for c in np.unique(labels[labels >= 0]):
        members = u[labels == c]  # (n_c, d)
        n = len(members)
        total += float(members.sum(axis=0) @ members.sum(axis=0) - (members**2).sum())
        count += n * (n - 1)  # ordered pairs i ≠ j, as in the sum above
    if count == 0:
        raise ValueError("labels: tolerance needs a class with at least two labelled items")
    return total / count


def separability(X: np.ndarray, labels: np.ndarray) -> float:
    """tr(S_between) / tr(S_within) of the unit rows over the labelled items."""
    labels = np.asarray(labels)
    u = unit_rows(np.asarray(X, float))[labels >= 0]
    labels = labels[labels >= 0]
    mean = u.mean(axis=0)
    between = within = 0.0
    for c in np.unique(labels):
        members = u[labels == c]
        centre = members.mean(axis=0)
        between += len(members) * ((centre - mean) ** 2).sum()
        within += ((members - centre) ** 2).sum()
    return float(between / max(within, 1e-12))


def representation_metrics(X: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """Uniformity always; tolerance and separability when labels are given."""
    out = {"uniformity": uniformity(X)}
    if labels is not None and (np.asarray(labels) >= 0).any():
        out.update(tolerance=tolerance(X, labels), separability=separability(X, labels))
    return out
