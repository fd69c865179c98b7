"""`DFR`: Deep Feature Reweighting (Kirichenko, Izmailov & Wilson, ICLR 2023) — the last layer
retrained on group-balanced data, as the official `dfr_evaluate_spurious.py` does it:

- tune: the rows split at random in halves; an L1 logistic regression (liblinear) per C in
  (1, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01), trained on a group-balanced subsample of one half
  (each group cut to the smallest, without replacement; standardised on it) and scored by
  worst-group accuracy on the other, unbalanced half; the first best C wins;
- fit: 20 logistic regressions with that C, each on a fresh group-balanced subsample of all
  the rows (standardised by all of them), their weights averaged.

Variant: the official code retrains on a held-out validation set because its features were
trained on the training set; here the features come from a frozen pretrained encoder that
never saw these rows, so the head is given the training rows (the paper's DFR on a balanced
training subset, with DFR^Val's tuning split). Seeded by `random_state` (the official code is
unseeded). Above two classes it fits one-vs-rest (as liblinear does); scores are the decision
values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from headstart.heads.base import LinearHead
from headstart.heads.groups import balanced_subsample, linear_scores, worst_group_accuracy
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags

C_OPTIONS = (1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)  # the official Waterbirds grid


def _l1_logistic(X: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) of an L1 logistic regression (liblinear), one-vs-rest above two
    classes (as liblinear fitted it before scikit-learn 1.8 stopped passing it several)."""
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    targets = [y == classes[1]] if len(classes) == 2 else [y == c for c in classes]
    fits = [
        LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear").fit(X, t)  # penalty="l1"
        for t in targets
    ]
    return np.vstack([f.coef_ for f in fits]), np.concatenate([f.intercept_ for f in fits])


def _predict(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray):
    scores = X @ coef.T + intercept
    if coef.shape[0] == 1:
        return classes[(scores[:, 0] > 0).astype(int)]
    return classes[np.argmax(scores, axis=1)]


class DFR(LinearHead):
    """Deep Feature Reweighting: L1 logistic regression on group-balanced subsamples."""

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="groups", groups=True)

    def __init__(
        self,
        Cs: Sequence[float] = C_OPTIONS,
        num_retrains: int = 20,
        random_state: int = 0,
    ) -> None:
        self.Cs = Cs
        self.num_retrains = num_retrains
        self.random_state = random_state

    def _fit_groups(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        from sklearn.preprocessing import StandardScaler

        rng = np.random.default_rng(self.random_state)
        X = np.asarray(X, dtype=np.float64)
        self.C_ = self._tune(X, y, groups, rng)
        scaler = StandardScaler().fit(X)
        scaled = scaler.transform(X)
        coefs, intercepts = [], []
        for _ in range(self.num_retrains):
            rows = balanced_subsample(groups, rng)
            coef, intercept = _l1_logistic(scaled[rows], y[rows], self.C_)
            coefs.append(coef)
            intercepts.append(intercept)
        coef, intercept = np.mean(coefs, axis=0), np.mean(intercepts, axis=0)
        # fold the standardisation into the weights: w·(x − μ)/σ = (w/σ)·x − w·μ/σ
        coef = coef / scaler.scale_
        intercept = intercept - coef @ scaler.mean_
        self.coef_, self.intercept_ = linear_scores(coef, intercept)

    def _tune(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, rng) -> float:
        from sklearn.preprocessing import StandardScaler

        if len(self.Cs) == 1:
            return float(self.Cs[0])
        order = rng.permutation(len(y))
        held, half = order[: len(y) // 2], order[len(y) // 2 :]
        rows = half[balanced_subsample(groups[half], rng)]
        if len(np.unique(y[rows])) != len(np.unique(y)):  # a class missing: nothing to tune on
            return float(self.Cs[0])
        scaler = StandardScaler().fit(X[rows])
        scores = []
        classes = np.unique(y[rows])
        for C in self.Cs:
            coef, intercept = _l1_logistic(scaler.transform(X[rows]), y[rows], C)
            predicted = _predict(scaler.transform(X[held]), coef, intercept, classes)
            scores.append(worst_group_accuracy(y[held], predicted, groups[held]))
        return float(self.Cs[int(np.argmax(scores))])


register_head(
    "dfr",
    DFR,
    variant="fitted on the training rows (frozen features never saw them), seeded",
)
