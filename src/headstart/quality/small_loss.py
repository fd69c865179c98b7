"""The small-loss detector (the clean/noisy split of DivideMix and PLS): per-item losses
ℓ = −log p̂_ỹ from out-of-sample probabilities, a two-component Gaussian mixture fitted to
them, and each item's posterior of the low-loss component; items whose posterior of being
clean is below one half are flagged. Losses are mixed on log(ℓ + ε), whose two modes are
closer to Gaussian than the raw losses' long tail."""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

EPSILON = 1e-6


def clean_probability(labels: np.ndarray, proba: np.ndarray, seed: int = 0) -> np.ndarray:
    """Posterior of the low-loss mixture component for every item."""
    labels = np.asarray(labels)
    picked = np.clip(np.asarray(proba, float)[np.arange(len(labels)), labels], EPSILON, 1.0)
    losses = np.log(-np.log(picked) + EPSILON)[:, None]
    mixture = GaussianMixture(2, random_state=seed).fit(losses)
    clean = int(np.argmin(mixture.means_[:, 0]))
    return mixture.predict_proba(losses)[:, clean]


def small_loss_issues(labels: np.ndarray, proba: np.ndarray, seed: int = 0) -> np.ndarray:
    """A boolean mask of the items more likely in the high-loss (noisy) component."""
    return clean_probability(labels, proba, seed) < 0.5
