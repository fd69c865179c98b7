"""Per-class outliers: items far from the rest of their class. The score is the log of the
cosine distance to the class's median direction (the normalised coordinate-wise median of its
unit vectors, which a few outliers cannot drag) — distances are right-skewed, their log close
to symmetric — robustly standardised within the class by the median and the median absolute
deviation (× 1.4826, the normal consistency constant); an item is flagged above `cutoff`
(3.5, Iglewicz & Hoaglin's rule)."""

from __future__ import annotations

import numpy as np

from headstart.vector_index import unit_rows

MAD_TO_SIGMA = 1.4826


def class_outliers(
    X: np.ndarray, labels: np.ndarray, cutoff: float = 3.5
) -> tuple[np.ndarray, np.ndarray]:
    """(robust z-score, flag) per item; unlabelled items (label < 0) get NaN and no flag."""
    labels = np.asarray(labels)
    unit = unit_rows(X)
    score = np.full(len(labels), np.nan)
    for c in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == c)
        centre = np.median(unit[rows], axis=0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        distance = np.log(1.0 - unit[rows] @ centre + 1e-9)
        spread = MAD_TO_SIGMA * np.median(np.abs(distance - np.median(distance)))
        score[rows] = (distance - np.median(distance)) / max(spread, 1e-12)
    return score, np.nan_to_num(score, nan=-np.inf) > cutoff
