"""`TipAdapter`: the training-free cache model of Tip-Adapter (Zhang et al., ECCV 2022).

Keys K are the L2-normalised support features, values L their one-hot labels. For a query f
(normalised), logits = s·f·Tᵀ + α·exp(−β(1 − f·Kᵀ))·L, with the zero-shot text classifier T
and s = 100 (CLIP's logit scale). The official code searches α and β on a validation set — on
ImageNet, the test set. Here they are chosen by leave-one-out on the support set: each
support item is scored by the cache of all the others (one Gram matrix serves every fold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import logsumexp

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.zero_shot import text_rows

# β over the official range (0, 7]. The official α range (0, 3] assumes CLIP, whose image–text
# cosines spread little; in other joint spaces (MiniLM, ConSE) 100·cos spreads far more and the
# cache needs weights up to the hundreds, so α spans 0.25–1024 geometrically (benchmarks/
# RESULTS.md: R8 16-shot 0.58 with the official range, 0.88 with this one).
DEFAULT_BETAS = tuple(np.round(np.linspace(0.5, 7.0, 14), 2))
DEFAULT_ALPHAS = tuple(float(a) for a in np.geomspace(0.25, 1024.0, 13))
MAX_LOO = 4000  # above this many support items, leave-one-out runs on a random subset


def cache_logits(affinity: np.ndarray, values: np.ndarray, beta: float) -> np.ndarray:
    """exp(−β(1 − A))·L for affinities A = f·Kᵀ (n, m) and values L (m, K)."""
    return np.exp(-beta * (1.0 - affinity)) @ values


def choose_alpha_beta(
    zero_shot: np.ndarray,
    gram: np.ndarray,
    values: np.ndarray,
    y: np.ndarray,
    alphas: Sequence[float],
    betas: Sequence[float],
) -> tuple[float, float, float]:
    """(α, β, accuracy) maximising leave-one-out accuracy; ties go to the lower held-out NLL.

    `gram` (n, m) holds the affinities of n held-out rows to all m keys, with the row's own
    key masked out (affinity −inf gives it weight 0).
    """
    best = (-1.0, -np.inf, 1.0, 1.0)
    rows = np.arange(len(y))
    for beta in betas:
        cache = cache_logits(gram, values, beta)
        for alpha in alphas:
            logits = zero_shot + alpha * cache
            accuracy = float((logits.argmax(1) == y).mean())
            log_likelihood = float((logits[rows, y] - logsumexp(logits, axis=1)).mean())
            if (accuracy, log_likelihood) > best[:2]:
                best = (accuracy, log_likelihood, float(alpha), float(beta))
    return best[2], best[3], best[0]


class TipAdapter(Head):
    """Tip-Adapter: zero-shot text logits plus a cache of the labelled support set.

    `alpha`/`beta` fix the cache weight and sharpness; left as None they are chosen from
    `alphas` × `betas` by leave-one-out accuracy on the support set (with one item per
    class no item can be left out, and α = β = 1, the paper's initialisation, is used).
    `logit_scale` multiplies the zero-shot cosines (100 for CLIP). Given augmented `views`
    of the support items, each key is the mean of its item's views (the paper's 10
    augmentation epochs), normalised.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(
            super().__headstart_tags__(), family="adapter", views=True, text_conditioned=True
        )

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        alpha: float | None = None,
        beta: float | None = None,
        alphas: Sequence[float] = DEFAULT_ALPHAS,
        betas: Sequence[float] = DEFAULT_BETAS,
        logit_scale: float = 100.0,
        random_state: int = 0,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.alpha = alpha
        self.beta = beta
        self.alphas = alphas
        self.betas = betas
        self.logit_scale = logit_scale
        self.random_state = random_state

    def _zero_shot(self, features: np.ndarray) -> np.ndarray:
        return self.logit_scale * (features @ self.text_.T.astype(features.dtype))

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self._fit_views(X, y, X[:, None, :])

    def _fit_views(self, X: np.ndarray, y: np.ndarray, views: np.ndarray) -> None:
        self._build_cache(X, y, views)
        self._choose_alpha_beta(l2_normalize(X), y)

    def _build_cache(self, X: np.ndarray, y: np.ndarray, views: np.ndarray) -> None:
        """Text classifier, keys (the normalised mean of each item's views) and values."""
        self.text_ = text_rows(self.class_embeddings, self.classes_, X.shape[1])
        self.keys_ = l2_normalize(views.mean(axis=1))
        self.values_ = np.eye(len(self.classes_))[y]
        self.n_views_ = views.shape[1]

    def _choose_alpha_beta(
        self, features: np.ndarray, y: np.ndarray, betas: Sequence[float] | None = None
    ) -> None:
        """α, β by leave-one-out on the support items' plain `features` against the current
        keys, each item's own key masked out (β from `betas` when given)."""
        alphas = [self.alpha] if self.alpha is not None else list(self.alphas)
        if betas is None:
            betas = [self.beta] if self.beta is not None else list(self.betas)
        self.alpha_, self.beta_, self.loo_accuracy_ = alphas[0], betas[0], float("nan")
        if len(alphas) * len(betas) > 1 and np.bincount(y).min() >= 2:
            held = np.arange(len(y))
            if len(y) > MAX_LOO:
                held = np.random.default_rng(self.random_state).choice(len(y), MAX_LOO, False)
            gram = (features[held] @ self.keys_.T.astype(features.dtype)).astype(np.float64)
            gram[np.arange(len(held)), held] = -np.inf  # leave the item itself out
            zero_shot = self._zero_shot(features[held]).astype(np.float64)
            self.alpha_, self.beta_, self.loo_accuracy_ = choose_alpha_beta(
                zero_shot, gram, self.values_, y[held], alphas, betas
            )
        elif len(alphas) * len(betas) > 1:  # one item in some class: the paper's initial values
            self.alpha_, self.beta_ = 1.0, float(betas[0]) if len(betas) == 1 else 1.0

    def _scores(self, X: np.ndarray) -> np.ndarray:
        features = l2_normalize(X)
        affinity = (features @ self.keys_.T.astype(features.dtype)).astype(np.float64)
        cache = cache_logits(affinity, self.values_, self.beta_)
        return self._zero_shot(features).astype(np.float64) + self.alpha_ * cache


register_head("tip-adapter", TipAdapter)


class TipAdapterF(TipAdapter):
    """Tip-Adapter-F: the cache keys become parameters, fine-tuned by cross-entropy (AdamW,
    lr 1e-3, eps 1e-4, cosine schedule, `epochs` 20 as in the paper), then α and β are
    searched again for the tuned keys.

    Training inputs are, as in the paper, augmented views of the support items (each epoch
    one view per item, drawn at random). Without views an item's own key would match it
    exactly and leave the loss nothing to learn, so each item is scored against the cache
    of all the others (leave-one-out folds of the support set). During training β stays at
    `train_beta` (the paper's `init_beta`, 1 on every dataset: a soft cache, in which an
    item's own key does not drown the others) and α at the leave-one-out choice for that β
    (the paper's `init_alpha` is tuned to CLIP's logit scale; other joint spaces need other
    weights); afterwards α and β are searched over the full grid, by leave-one-out on the
    support set.
    """

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        alpha: float | None = None,
        beta: float | None = None,
        alphas: Sequence[float] = DEFAULT_ALPHAS,
        betas: Sequence[float] = DEFAULT_BETAS,
        logit_scale: float = 100.0,
        epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 256,
        train_beta: float = 1.0,
        random_state: int = 0,
    ) -> None:
        super().__init__(class_embeddings, alpha, beta, alphas, betas, logit_scale, random_state)
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.train_beta = train_beta

    def _fit_views(self, X: np.ndarray, y: np.ndarray, views: np.ndarray) -> None:
        self._build_cache(X, y, views)
        self.initial_keys_ = self.keys_.copy()
        features = l2_normalize(X)
        beta = self.beta if self.beta is not None else self.train_beta
        self._choose_alpha_beta(features, y, betas=[beta])  # the training α, β
        self.train_alpha_, self.train_beta_ = self.alpha_, self.beta_
        n, n_views, d = views.shape
        normalised = l2_normalize(views.reshape(n * n_views, d)).reshape(n, n_views, d)
        self.keys_ = self._tuned_keys(normalised, y)
        self._choose_alpha_beta(features, y)

    def _tuned_keys(self, views: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Keys after `epochs` passes over the support items; `views` (n, v, d) normalised."""
        generator = torch.Generator().manual_seed(self.random_state)
        n, n_views = views.shape[:2]
        inputs = torch.as_tensor(views, dtype=torch.float32)
        keys = torch.nn.Parameter(torch.as_tensor(self.keys_, dtype=torch.float32).clone())
        values = torch.as_tensor(self.values_, dtype=torch.float32)
        text = torch.as_tensor(self.text_, dtype=torch.float32)
        labels = torch.as_tensor(y)
        hold_out_self = n_views == 1  # no views: an item never sees its own key
        optimiser = torch.optim.AdamW([keys], lr=self.lr, eps=1e-4)
        steps = self.epochs * -(-n // self.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, steps))
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=generator)
            chosen = torch.randint(n_views, (n,), generator=generator)
            for start in range(0, n, self.batch_size):
                batch = order[start : start + self.batch_size]
                queries = inputs[batch, chosen[batch]]
                weights = torch.exp(-self.beta_ * (1.0 - queries @ keys.T))
                if hold_out_self:
                    weights = weights.index_put(
                        (torch.arange(len(batch)), batch), torch.tensor(0.0)
                    )
                logits = self.logit_scale * queries @ text.T + self.alpha_ * (weights @ values)
                loss = F.cross_entropy(logits, labels[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
        return keys.detach().double().numpy()


register_head("tip-adapter-f", TipAdapterF)
