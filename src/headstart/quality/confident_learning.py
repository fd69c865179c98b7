"""Confident learning (Northcutt, Jiang & Chuang, JAIR 2021): label errors from out-of-sample
probabilities p̂ (n, K) and given labels ỹ.

- Per-class thresholds t_j: the mean p̂_j over the items labelled j.
- Confident joint C[i][j]: items labelled i whose p̂_j ≥ t_j; when several classes pass, the
  row's most probable class; items passing none are not counted. As the official code, the
  comparison has a 1e-6 slack and every diagonal entry is at least 1.
- Calibration: each row scaled to its label count, the whole to n, rounded so that the row
  totals are kept.
- Label issues by "prune by noise rate": for every i ≠ j, the C̃[i][j] items labelled i with
  the largest margin p̂_j − p̂_i; then, as the official `find_label_issues` does last, an
  item whose most probable class is its given label (ties, within 1e-6, go to the label) is
  never an issue. Without that step R8 with 20% asymmetric noise scored F1 0.649 against
  cleanlab's 0.782 on the same probabilities.
"""

from __future__ import annotations

import numpy as np

SLACK = 1e-6


def confident_thresholds(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """t_j = mean of p̂_j over the items labelled j."""
    k = proba.shape[1]
    return np.array(
        [proba[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(k)]
    )


def confident_joint(labels: np.ndarray, proba: np.ndarray, calibrate: bool = True) -> np.ndarray:
    """The (K, K) confident joint: rows given labels, columns the confidently guessed ones."""
    labels, proba = np.asarray(labels), np.asarray(proba, dtype=float)
    k = proba.shape[1]
    passing = proba >= confident_thresholds(labels, proba) - SLACK
    count = passing.sum(axis=1)
    guess = np.where(count > 1, proba.argmax(axis=1), passing.argmax(axis=1))
    kept = count > 0
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (labels[kept], guess[kept]), 1)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    return _calibrated(joint, np.bincount(labels, minlength=k)) if calibrate else joint


def _calibrated(joint: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    scaled = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-12) * label_counts[:, None]
    scaled = scaled / max(scaled.sum(), 1e-12) * label_counts.sum()
    return _round_keeping_row_totals(scaled)


def _round_keeping_row_totals(matrix: np.ndarray) -> np.ndarray:
    """Integers whose row sums are the rounded row sums: floors, then the largest fractional
    parts of each row get the remaining units."""
    floors = np.floor(matrix).astype(np.int64)
    targets = np.round(matrix.sum(axis=1)).astype(np.int64)
    for i, row in enumerate(matrix):
        missing = targets[i] - floors[i].sum()
        if missing > 0:
            floors[i, np.argsort(-(row - floors[i]), kind="stable")[:missing]] += 1
    return floors


def find_label_issues(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """A boolean mask of the items whose given label is likely wrong (prune by noise rate)."""
    labels, proba = np.asarray(labels), np.asarray(proba, dtype=float)
    joint = confident_joint(labels, proba)
    issues = np.zeros(len(labels), dtype=bool)
    for i in range(len(joint)):
        rows = np.flatnonzero(labels == i)
        for j in range(len(joint)):
            if i != j and joint[i, j] > 0 and len(rows):
                margin = proba[rows, j] - proba[rows, i]
                issues[rows[np.argsort(-margin, kind="stable")[: joint[i, j]]]] = True
    favoured = proba.copy()
    favoured[np.arange(len(labels)), labels] += SLACK
    issues[favoured.argmax(axis=1) == labels] = False  # the head agrees with the label
    return issues
