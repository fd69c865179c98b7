"""`TEEN`: prototypes with training-free calibration of new classes (Wang et al., NeurIPS 2023).

Base classes get the mean of their (L2-normalised) features. A class added later from a few
shots gets its normalised mean p, then, as the official `soft_calibration`:
    w = softmax_b(τ · cos(p, b)) over the normalised base prototypes b,
    δ = normalise(Σ_b w_b · b),   p̂ = (1 − α) · p + α · δ,
with τ = 16 (the paper's `softmax_t`); inference is cosine similarity × 16 to every
prototype (the paper's `temperature`). The paper fixes α per dataset (0.1 CIFAR-100, 0.5 CUB);
here α is chosen when the base classes are fitted, on pseudo-sessions drawn from the base
classes' own training items (some base classes play the new ones, with `pseudo_shots` items
each), maximising the harmonic mean of base and new accuracy — never on test items.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from headstart.heads.prototype import Prototype, l2_normalize
from headstart.heads.registry import register_head

ALPHAS = tuple(np.round(np.arange(0.0, 1.0, 0.1), 1))
PAPER_ALPHA = 0.5  # the official default, used when the base set is too small to simulate


def calibrate(new: np.ndarray, base: np.ndarray, alpha: float, tau: float) -> np.ndarray:
    """TEEN's calibrated prototypes for normalised new means `new` against normalised base
    prototypes `base`."""
    weights = softmax(tau * new @ base.T, axis=1)
    shift = l2_normalize(weights @ base)
    return (1 - alpha) * new + alpha * shift


class TEEN(Prototype):
    """Cosine prototypes whose classes added by `extend` are calibrated toward the base ones.

    `alpha` "auto" (chosen on base-class pseudo-sessions) or a number in [0, 1]; `tau` the
    softmax temperature of the calibration weights (16); `pseudo_shots` items per pseudo-new
    class; `seed` for the pseudo-sessions.
    """

    family = "incremental"

    def __init__(
        self, alpha: float | str = "auto", tau: float = 16.0, pseudo_shots: int = 5, seed: int = 0
    ) -> None:
        super().__init__(metric="cosine", temperature=1 / 16)
        self.alpha = alpha
        self.tau = tau
        self.pseudo_shots = pseudo_shots
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        super()._fit(X, y)
        self.base_count_ = len(self.classes_)
        if self.alpha == "auto":
            self.alpha_, self.alpha_how_ = self._choose_alpha(l2_normalize(X).astype(float), y)
        else:
            if not 0 <= float(self.alpha) <= 1:
                raise ValueError(f"alpha must be 'auto' or in [0, 1], got {self.alpha!r}")
            self.alpha_, self.alpha_how_ = float(self.alpha), "given"

    def _extend(self, X: np.ndarray, y_index: np.ndarray) -> None:
        new = self._means(X, y_index, int(y_index.max()) + 1).astype(float)
        base = self.prototypes_[: self.base_count_].astype(float)
        calibrated = calibrate(new, base, self.alpha_, self.tau)
        self.prototypes_ = np.vstack([self.prototypes_, calibrated.astype(self.prototypes_.dtype)])

    def _scores(self, X: np.ndarray) -> np.ndarray:
        # cosine to the prototypes, renormalised: a calibrated prototype is not unit length
        cosines = l2_normalize(X) @ l2_normalize(self.prototypes_).T.astype(X.dtype)
        return cosines.astype(np.float64) / self._tau()

    def _choose_alpha(self, unit: np.ndarray, y: np.ndarray) -> tuple[float, str]:
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
        totals = np.zeros(len(ALPHAS))
        sessions = 5
        for _ in range(sessions):
            order = rng.permutation(k)
            pseudo_new, pseudo_base = order[:way], order[way:]
            protos, scored, truth = [], [], []
            for c in pseudo_base:
                items = rng.permutation(np.flatnonzero(y == c))
                half = max(1, len(items) // 2)
                protos.append(l2_normalize(unit[items[:half]].mean(0, keepdims=True))[0])
                scored.append(items[half:] if len(items) > half else items)
                truth.append(np.full(len(scored[-1]), len(protos) - 1))
            base = np.stack(protos)
            shots, new_scored = [], []
            for j, c in enumerate(pseudo_new):
                items = rng.permutation(np.flatnonzero(y == c))
                shots.append(
                    l2_normalize(unit[items[: self.pseudo_shots]].mean(0, keepdims=True))[0]
                )
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
