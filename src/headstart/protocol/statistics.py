"""Means with 95% confidence intervals over seeds, and paired differences between heads.

Two intervals, both Student-t with J − 1 degrees of freedom over J scores:
- independent seeds (k-shot draws, each scored on the whole test set): the plain t interval,
  variance σ̂²/J;
- repeated k-fold cross-validation, where every training set overlaps every other: the
  corrected resampled t (Nadeau & Bengio 2003; Bouckaert & Frank 2004), variance
  (1/J + n_test/n_train)·σ̂². Treating the J = folds × repeats scores as independent makes
  the interval several times too narrow (about 2.6× for 10-fold × 5).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

PLAIN = "t interval over independent seeds"
CORRECTED = "corrected resampled t (Nadeau & Bengio 2003), test/train = {ratio:.3g}"


def mean_ci(
    values: np.ndarray, level: float = 0.95, test_train_ratio: float | None = None
) -> tuple[float, float, float]:
    """(mean, low, high) of a t interval; NaN bounds for one value.

    `test_train_ratio` (n_test/n_train of each fold, 1/(k−1) for k-fold) switches to the
    corrected resampled t for scores from repeated cross-validation.
    """
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    n = len(values)
    if n < 2:
        return mean, math.nan, math.nan
    inflation = 1.0 / n + (test_train_ratio or 0.0)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) * math.sqrt(inflation))
    return mean, mean - half, mean + half


def interval_name(test_train_ratio: float | None) -> str:
    """How `mean_ci` computed an interval, for reports."""
    return CORRECTED.format(ratio=test_train_ratio) if test_train_ratio else PLAIN
