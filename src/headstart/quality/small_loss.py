"""The small-loss detector (the clean/noisy split of DivideMix and PLS): per-item losses
ℓ = −log p̂_ỹ from out-of-sample probabilities, min–max scaled, a two-component Gaussian
mixture fitted to them with the official settings (10 iterations, tol 1e-2, reg_covar 5e-4,
shared with LSA's loss step), and each item's posterior of the low-loss component; items
whose posterior of being clean is below one half are flagged. (An earlier version mixed
log-losses: on clean Fashion-MNIST features it flagged 797 of 1,500 items, the raw losses 159.)"""

from __future__ import annotations

import numpy as np

from headstart.quality.linear_separation import noisy_posterior

EPSILON = 1e-12


def clean_probability(labels: np.ndarray, proba: np.ndarray, seed: int = 0) -> np.ndarray:
    """Posterior of the low-loss mixture component for every item."""
    labels = np.asarray(labels)
    picked = np.clip(np.asarray(proba, float)[np.arange(len(labels)), labels], EPSILON, 1.0)
    return 1.0 - noisy_posterior(-np.log(picked), seed)


def small_loss_issues(labels: np.ndarray, proba: np.ndarray, seed: int = 0) -> np.ndarray:
    """A boolean mask of the items more likely in the high-loss (noisy) component."""
    return clean_probability(labels, proba, seed) < 0.5
