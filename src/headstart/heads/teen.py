"""`TEEN`: prototypes with training-free calibration of new classes (Wang et al., NeurIPS 2023).

Every class's prototype is the mean of its raw features, normalised (the official
`replace_base_fc` and `update_fc_avg` average unnormalised embeddings; `soft_calibration`
normalises them). A class added later from a few shots gets its prototype p, then, as the
official `soft_calibration`:
    w = softmax_b(τ · cos(p, b)) over the normalised base prototypes b,
    δ = normalise(Σ_b w_b · b),   p̂ = (1 − α) · p + α · δ,
with τ = 16 (the paper's `softmax_t`); inference is cosine similarity × 16 to every
prototype (the paper's `temperature`). α is fixed, 0.5 by default: the official
`shift_weight` of CUB-200 and miniImageNet (`scripts/*.sh`; CIFAR-100 uses 0.1).

Variants (ours, off by default): `alpha="auto"` chooses α when the base classes are fitted,
on pseudo-sessions drawn from the base classes' own training items (some base classes play
the new ones, with `pseudo_shots` items each), maximising the harmonic mean of base and new
accuracy — never on test items; `mean="unit"` averages L2-normalised features instead of raw
ones (the plain cosine prototype's convention).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import softmax

from headstart.heads.prototype import Prototype, l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags

ALPHAS = tuple(np.round(np.arange(0.0, 1.0, 0.1), 1))
PAPER_ALPHA = 0.5  # the official `shift_weight` on CUB-200 and miniImageNet
MEANS = ("raw", "unit")


def calibrate(new: np.ndarray, base: np.ndarray, alpha: float, tau: float) -> np.ndarray:
    """TEEN's calibrated prototypes for normalised new means `new` against normalised base
    prototypes `base`."""
    weights = softmax(tau * new @ base.T, axis=1)
    shift = l2_normalize(weights @ base)
    return (1 - alpha) * new + alpha * shift


class TEEN(Prototype):
    """Cosine prototypes whose classes added by `extend` are calibrated toward the base ones.

    `alpha` the calibration weight in [0, 1] (the paper's 0.5) or "auto" (ours: chosen on
    base-class pseudo-sessions); `tau` the softmax temperature of the calibration weights
    (16); `mean` "raw" (official: normalised mean of raw features) or "unit" (mean of unit
    features); `pseudo_shots` items per pseudo-new class and `seed` for "auto".
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="incremental")

    def __init__(
        self,
        alpha: float | str = PAPER_ALPHA,
        tau: float = 16.0,
        mean: str = "raw",
        pseudo_shots: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__(metric="cosine", temperature=1 / 16)
        self.alpha = alpha
        self.tau = tau
        self.mean = mean
        self.pseudo_shots = pseudo_shots
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.mean not in MEANS:
            raise ValueError(f"mean must be one of {MEANS}, got {self.mean!r}")
        if self.alpha != "auto" and (isinstance(self.alpha, str) or not 0 <= self.alpha <= 1):
            raise ValueError(f"alpha must be 'auto' or a number in [0, 1], got {self.alpha!r}")
        super()._fit(X, y)
        self.base_count_ = len(self.classes_)
        if self.alpha == "auto":
            self.alpha_, self.alpha_how_ = self._choose_alpha(X.astype(float), y)
        else:
            self.alpha_, self.alpha_how_ = float(self.alpha), "given"

    def _means(self, X: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
        """Each class's prototype: the normalised mean of its raw (or unit) features."""
        source = X if self.mean == "raw" else l2_normalize(X)
        return l2_normalize(np.stack([source[y == c].mean(axis=0) for c in range(k)]))

    def _extend(self, X: np.ndarray, y_index: np.ndarray) -> None:
        new = self._means(X, y_index, int(y_index.max()) + 1).astype(float)
        base = self.prototypes_[: self.base_count_].astype(float)
        calibrated = calibrate(new, base, self.alpha_, self.tau)
        self.prototypes_ = np.vstack([self.prototypes_, calibrated.astype(self.prototypes_.dtype)])

    def _scores(self, X: np.ndarray) -> np.ndarray:
        # cosine to the prototypes, renormalised: a calibrated prototype is not unit length
        cosines = l2_normalize(X) @ l2_normalize(self.prototypes_).T.astype(X.dtype)
        return cosines.astype(np.float64) / self._tau()

    def _choose_alpha(self, X: np.ndarray, y: np.ndarray) -> tuple[float, str]:
        """α maximising the mean harmonic accuracy of base and new classes over pseudo-
        sessions: a fifth of the base classes (1 to 5) act as new ones with `pseudo_shots`
        items; every class's other items are scored (half of each pseudo-base class's items
        build its prototype, the other half are scored)."""
        counts = np.bincount(y)
        k = len(counts)
        way = int(np.clip(k // 5, 1, 5))
        if k - way < 2 or counts.min() < self.pseudo_shots + 1:
            return PAPER_ALPHA, "paper default: too few base classes or items to simulate"
        rng = np.random.default_rng(self.seed)
        unit = l2_normalize(X)

        def prototype(rows: np.ndarray) -> np.ndarray:
            return self._means(X[rows], np.zeros(len(rows), dtype=int), 1)[0]

        totals = np.zeros(len(ALPHAS))
        sessions = 5
        for _ in range(sessions):
            order = rng.permutation(k)
            pseudo_new, pseudo_base = order[:way], order[way:]
            protos, scored, truth = [], [], []
            for c in pseudo_base:
                items = rng.permutation(np.flatnonzero(y == c))
                half = max(1, len(items) // 2)
                protos.append(prototype(items[:half]))
                scored.append(items[half:] if len(items) > half else items)
                truth.append(np.full(len(scored[-1]), len(protos) - 1))
            base = np.stack(protos)
            shots, new_scored = [], []
            for j, c in enumerate(pseudo_new):
                items = rng.permutation(np.flatnonzero(y == c))
                shots.append(prototype(items[: self.pseudo_shots]))
                new_scored.append(items[self.pseudo_shots :])
                truth.append(np.full(len(new_scored[-1]), len(base) + j))
            rows = np.concatenate(scored + new_scored)
            labels = np.concatenate(truth)
            is_new = labels >= len(base)
            for a, alpha in enumerate(ALPHAS):
                prototypes = np.vstack([base, calibrate(np.stack(shots), base, alpha, self.tau)])
                hit = (unit[rows] @ l2_normalize(prototypes).T).argmax(1) == labels
                old, new = hit[~is_new].mean(), hit[is_new].mean()
                totals[a] += 0 if old + new == 0 else 2 * old * new / (old + new)
        best = int(np.argmax(totals))  # the first maximum: the smallest such α
        how = f"harmonic mean over {sessions} pseudo-sessions of {way} base classes as new"
        return float(ALPHAS[best]), how


register_head("teen", TEEN)
