"""`LinearProbe`: multinomial logistic regression on embeddings, C chosen by inner CV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from headstart.heads.base import LinearHead
from headstart.heads.lbfgs_path import fit_path
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.tensors import compute_dtype

DEFAULT_CS = (1e-2, 1e-1, 1.0, 10.0)


class LinearProbe(LinearHead):
    """Multinomial logistic regression (L2), full-batch L-BFGS, C by inner cross-validation.

    `C` fixes the inverse regularisation strength; left as None it is chosen from `Cs` by
    mean held-out log-likelihood over `cv` stratified folds of the training data (one 10%
    holdout above `holdout_above` samples), warm-starting along the path. With fewer than two
    samples in some class no split is possible and `default_C` is used. The objective is
    scikit-learn's: C Σ CE + ½‖W‖² (intercept not penalised); `tol` bounds the largest
    gradient entry of the mean-scaled objective, as scikit-learn's lbfgs `tol` does.
    `precision` "auto" computes in float64 (CPU) for small data and float32 above 10M values,
    where each L-BFGS step is bound by reading X from memory.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="linear")

    def __init__(
        self,
        C: float | None = None,
        Cs: Sequence[float] = DEFAULT_CS,
        cv: int = 5,
        default_C: float = 1.0,
        holdout_above: int = 5000,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int = 0,
        precision: str = "auto",
        device: str = "cpu",
    ) -> None:
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.default_C = default_C
        self.holdout_above = holdout_above
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.precision = precision
        self.device = device

    _loss = "multinomial"

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        Cs = [self.C] if self.C is not None else list(self.Cs)
        if any(c <= 0 for c in Cs):
            raise ValueError(f"C values must be positive, got {Cs}")
        dtype = compute_dtype(self.precision, X, self.device)
        result = fit_path(
            X,
            y,
            len(self.classes_),
            Cs,
            self.default_C,
            self._loss,
            self.cv,
            self.holdout_above,
            self.random_state,
            self.max_iter,
            self.tol,
            self.device,
            dtype,
        )
        self.C_ = result.C
        self.cv_scores_ = np.asarray(result.cv_scores)
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.n_iter_ = result.n_iter


register_head("linear-probe", LinearProbe)
