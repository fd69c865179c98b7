"""Label-error detection (issue 14): confident learning against a case worked by hand, and on
planted label flips with cross-fitted probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.exceptions import DataError
from headstart.heads import create_head
from headstart.quality import (
    confident_joint,
    confident_thresholds,
    find_label_issues,
    out_of_fold_proba,
)


def test_the_confident_joint_of_a_case_worked_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])
    # t0 = (0.9 + 0.8 + 0.3) / 3, t1 = (0.8 + 0.9 + 0.4) / 3 = 0.7
    np.testing.assert_allclose(confident_thresholds(labels, proba), [2 / 3, 0.7])
    # rows 0, 1 → (0, 0); row 2 reaches t1 → (0, 1); rows 3, 4 → (1, 1); row 5 passes neither
    assert confident_joint(labels, proba, calibrate=False).tolist() == [[2, 1], [0, 2]]
    # calibrated: row 1 scaled to its 3 labels → [0, 3]; the total is already n = 6
    assert confident_joint(labels, proba).tolist() == [[2, 1], [0, 3]]
    # one item labelled 0 to prune toward class 1: the largest margin p1 − p0 is row 2
    assert find_label_issues(labels, proba).tolist() == [False, False, True, False, False, False]


def test_planted_label_flips_are_found_from_cross_fitted_probabilities():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 10)) * 3
    truth = np.repeat(np.arange(4), 60)
    X = centres[truth] + rng.normal(size=(240, 10))
    noisy = truth.copy()
    flipped = rng.choice(240, 24, replace=False)
    noisy[flipped] = (truth[flipped] + rng.integers(1, 4, 24)) % 4
    proba = out_of_fold_proba(create_head("gda"), X, noisy)
    found = find_label_issues(noisy, proba)
    precision = found[flipped].sum() / max(found.sum(), 1)
    recall = found[flipped].mean()
    assert precision > 0.8 and recall > 0.8, (precision, recall)
    short = np.r_[np.zeros(60, int), np.ones(60, int), np.full(60, 2), [3, 3, 3]]
    with pytest.raises(DataError, match=r"classes \[3\] have fewer items than the 5 folds"):
        out_of_fold_proba(create_head("gda"), X[:183], short)
