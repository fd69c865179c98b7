"""Metrics of one fitted head on the test set: accuracy, balanced accuracy, macro-F1, NLL, ECE."""

from __future__ import annotations

import numpy as np

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "nll", "ece")
CALIBRATED_METRICS = ("nll_calibrated", "ece_calibrated")  # after temperature scaling
OPEN_SET = ("auroc", "aupr_in", "aupr_out", "fpr95", "oscr")  # headstart.openset.metrics
BOUNDED_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "macro_f1", "ece", "ece_calibrated", "auc"}
    | {*OPEN_SET, *(f"far_{m}" for m in OPEN_SET), "closed_accuracy"}
    | {"accuracy_all", "accuracy_base", "accuracy_new", "harmonic_mean"}  # sessions
    | {"accuracy_base_per_class", "accuracy_new_per_class", "harmonic_mean_per_class"}
    | {"top5_accuracy", "nmi", "v_measure"}  # kNN and clustering on frozen features
    | {"map_at_r", "r_precision", "precision_at_1", "map", "map_oxford"}  # retrieval
    | {"corruption_accuracy", "extra_corruption_accuracy", "baseline_corruption_accuracy"}
    | {"store_accuracy"}
    | {"worst_group_accuracy", "group_gap"}  # groups
)
LOWER_IS_BETTER = frozenset(
    {"nll", "ece", *CALIBRATED_METRICS, "fit_seconds", "fpr95", "far_fpr95"}
    | {"inductive_bias_bits", "alignment", "uniformity", "sampled_mse", "posterior_mean_mse"}
    | {"relative_drop", "mce", "relative_mce", "group_gap"}  # corruptions, groups
)


def is_bounded(metric: str) -> bool:
    """Whether a metric lies in [0, 1] (its interval is then taken on the logit scale)."""
    return metric in BOUNDED_METRICS or metric.startswith(("recall_at_", "accuracy/"))


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


def _balanced_accuracy_and_macro_f1(y: np.ndarray, predicted: np.ndarray, k: int):
    """scikit-learn's balanced accuracy (mean recall over true classes) and macro-F1 (over
    classes seen in y or predicted), from one confusion matrix: the grid calls this thousands
    of times, and scikit-learn's input checks cost more than the arithmetic."""
    confusion = np.bincount(y * k + predicted, minlength=k * k).reshape(k, k)
    hits, true, guessed = np.diag(confusion), confusion.sum(1), confusion.sum(0)
    balanced = float(np.mean(hits[true > 0] / true[true > 0]))
    seen = (true + guessed) > 0
    macro_f1 = float(np.mean(2 * hits[seen] / (true + guessed)[seen]))
    return balanced, macro_f1


def classification_metrics(proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """All of `METRICS` for probabilities (n, K) over classes 0..K−1 and true labels `y`."""
    y = np.asarray(y, dtype=np.int64)
    predicted = proba.argmax(axis=1)
    picked = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    balanced, macro_f1 = _balanced_accuracy_and_macro_f1(y, predicted, proba.shape[1])
    return {
        "accuracy": float(np.mean(predicted == y)),
        "balanced_accuracy": balanced,
        "macro_f1": macro_f1,
        "nll": float(-np.mean(np.log(picked))),
        "ece": expected_calibration_error(proba, y),
    }
