"""Noise corruptions: Gaussian, shot (Poisson), impulse (salt and pepper), speckle."""

from __future__ import annotations

import numpy as np

from headstart.datasets.corruptions.base import register, to_uint8, unit


@register("gaussian-noise", "noise", "additive Gaussian noise, σ 0.08–0.38")
def gaussian_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    scale = (0.08, 0.12, 0.18, 0.26, 0.38)[severity - 1]
    x = unit(image)
    return to_uint8(x + rng.normal(size=x.shape, scale=scale))


@register("shot-noise", "noise", "Poisson noise, 60 to 3 photons per unit intensity")
def shot_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    photons = (60, 25, 12, 5, 3)[severity - 1]
    return to_uint8(rng.poisson(unit(image) * photons) / photons)


@register("impulse-noise", "noise", "salt-and-pepper noise on 3% to 27% of the values")
def impulse_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-image's `random_noise(mode="s&p")` as the package calls it — each value flipped
    with probability `amount`, to 1 or 0 with even odds — drawn from our seeded generator."""
    amount = (0.03, 0.06, 0.09, 0.17, 0.27)[severity - 1]
    x = unit(image)
    flipped = rng.random_sample(x.shape) <= amount
    salted = rng.random_sample(x.shape) <= 0.5
    x[flipped & salted], x[flipped & ~salted] = 1.0, 0.0
    return to_uint8(x)


@register("speckle-noise", "extra", "multiplicative Gaussian noise, σ 0.15–0.6")
def speckle_noise(image: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    scale = (0.15, 0.2, 0.35, 0.45, 0.6)[severity - 1]
    x = unit(image)
    return to_uint8(x + x * rng.normal(size=x.shape, scale=scale))
