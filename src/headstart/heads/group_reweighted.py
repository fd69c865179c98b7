"""`GroupReweighted`: logistic regression with every group weighted equally — each row
weighted n / (G · n_g) — the group-balanced reweighting baseline of group-robustness work
(Sagawa et al. 2020; "RWG" in Idrissi et al. 2022), on frozen features."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from headstart.heads.base import LinearHead
from headstart.heads.groups import linear_scores
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags


class GroupReweighted(LinearHead):
    """Logistic regression (L2) with rows weighted so that every group counts the same."""

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="groups", groups=True)

    def __init__(self, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def _fit_groups(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        names, index, counts = np.unique(groups, return_inverse=True, return_counts=True)
        weights = len(y) / (len(names) * counts[index])
        model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        model.fit(np.asarray(X, dtype=np.float64), y, sample_weight=weights)
        self.coef_, self.intercept_ = linear_scores(model.coef_, model.intercept_)


register_head("group-reweighted", GroupReweighted)
