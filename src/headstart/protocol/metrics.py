"""Metrics of one fitted head on the test set: accuracy, balanced accuracy, macro-F1, NLL, ECE."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "nll", "ece")


def calibration_bins(proba: np.ndarray, y: np.ndarray, bins: int) -> dict[str, list]:
    """Mean confidence, accuracy and count per equal-width confidence bin (None when empty)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    members = [which == b for b in range(bins)]
    return {
        "confidence": [float(confidence[m].mean()) if m.any() else None for m in members],
        "accuracy": [float(correct[m].mean()) if m.any() else None for m in members],
        "count": [int(m.sum()) for m in members],
    }


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Σ_b |B_b|/n · |accuracy(B_b) − confidence(B_b)| over equal-width confidence bins."""
    table = calibration_bins(proba, y, bins)
    total = sum(
        n * abs(a - c)
        for c, a, n in zip(table["confidence"], table["accuracy"], table["count"], strict=True)
        if n
    )
    return float(total / len(y))


def classification_metrics(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """All of `METRICS` for probabilities (n, K) over classes 0..K−1 and true labels `y`."""
    predicted = proba.argmax(axis=1)
    picked = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    return {
        "accuracy": float(np.mean(predicted == y)),
        "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
        "macro_f1": float(f1_score(y, predicted, average="macro", zero_division=0)),
        "nll": float(-np.mean(np.log(picked))),
        "ece": expected_calibration_error(proba, y),
    }
