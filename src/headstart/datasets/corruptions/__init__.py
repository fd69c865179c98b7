"""Image corruptions at severities 1–5 as Hendrycks & Dietterich define them for ImageNet-C
("Benchmarking Neural Network Robustness to Common Corruptions and Perturbations", 2019): the
15 benchmark corruptions in four families (noise, blur, weather, digital) and the 4 extra ones,
for images of any size as the `imagecorruptions` package generalises them.

Written here because that package no longer runs whole with today's NumPy, scikit-image and
setuptools (its glass blur, Gaussian blur and fog fail, and it imports `pkg_resources`); tests
compare every corruption with the package's outputs (`tests/data/corruption_reference.npz`).
Each corruption takes an RGB uint8 array (H, W, 3), a severity and a seeded NumPy `RandomState`
(the legacy generator: the package's draws under `np.random.seed`) and returns RGB uint8.
"""

from __future__ import annotations

import numpy as np

from headstart.datasets.corruptions import blur, digital, noise, weather  # noqa: F401 (registers)
from headstart.datasets.corruptions.base import CORRUPTIONS, FAMILIES, SEVERITIES
from headstart.exceptions import DataError

__all__ = ["CORRUPTIONS", "FAMILIES", "SEVERITIES", "corrupt"]


def corrupt(image: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """`image` (H, W, 3 uint8) under corruption `name` at `severity` (1–5), seeded."""
    if severity not in SEVERITIES:
        raise DataError(f"severity {severity!r}: corruption severities are 1 to 5")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise DataError(
            f"corruptions take RGB uint8 images (H, W, 3); got {image.dtype} {image.shape}"
        )
    function = CORRUPTIONS.create(name)
    return function(image, severity, np.random.RandomState(seed))
