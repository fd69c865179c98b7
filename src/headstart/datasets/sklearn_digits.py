"""scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes, no official split)."""

from __future__ import annotations

import numpy as np

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS


@DATASETS.register("digits", "scikit-learn 8×8 digits: 1,797 images, 10 classes (bundled)")
def load_digits() -> Dataset:
    """scikit-learn's digits, pixel values 0..16 rescaled to uint8 0..255."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.clip(np.round(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return Dataset(
        name="digits",
        items=images,
        labels=bunch.target,
        class_names=[str(d) for d in range(10)],
        ids=[f"digits-{i:04d}" for i in range(len(images))],
        source="sklearn.datasets.load_digits",
    )
