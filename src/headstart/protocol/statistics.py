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

from headstart.protocol.metrics import is_bounded

PLAIN = "t interval over independent seeds"
CORRECTED = "corrected resampled t (Nadeau & Bengio 2003), test/train = {ratio:.3g}"
LOGIT = (
    "metrics bounded by [0, 1] (accuracy, F1, ECE, AUC) take the interval on the logit scale "
    "(values clipped to [ε, 1 − ε], ε = {eps:g}) and map it back, so it stays inside [0, 1]"
)
EPSILON = 1e-3  # clip for logit(0) and logit(1): about one item in a thousand


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


def bounded_ci(
    values: np.ndarray, level: float = 0.95, test_train_ratio: float | None = None
) -> tuple[float, float, float]:
    """(mean, low, high) for scores in [0, 1]: the same t interval taken on logit(values)
    and mapped back with the logistic function, so both bounds stay inside [0, 1]; widened
    to hold the plain mean when the logit scale's skew would leave it outside."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    if np.ptp(values) == 0:  # every seed scored the same: nothing to spread
        return mean, mean, mean
    clipped = np.clip(values, EPSILON, 1 - EPSILON)
    _, low, high = mean_ci(np.log(clipped / (1 - clipped)), level, test_train_ratio)
    low, high = 1 / (1 + math.exp(-low)), 1 / (1 + math.exp(-high))
    return mean, min(low, mean), max(high, mean)


def metric_ci(
    metric: str,
    values: np.ndarray,
    level: float = 0.95,
    test_train_ratio: float | None = None,
) -> tuple[float, float, float]:
    """`bounded_ci` for metrics in [0, 1], `mean_ci` for the others (NLL, seconds)."""
    interval = bounded_ci if is_bounded(metric) else mean_ci
    return interval(values, level, test_train_ratio)


def interval_name(test_train_ratio: float | None) -> str:
    """How `mean_ci` and `bounded_ci` computed an interval, for reports."""
    base = CORRECTED.format(ratio=test_train_ratio) if test_train_ratio else PLAIN
    return f"{base}; {LOGIT.format(eps=EPSILON)}"
