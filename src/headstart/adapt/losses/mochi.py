"""MoCHi — hard negative mixing (Kalantidis et al., NeurIPS 2020) on MoCo-v2's memory queue.

As MoCo-v2, which MoCHi is built on: the query q comes from the adapter being trained, its
positive key k⁺ from a momentum copy of it (the trainer keeps it, m = `momentum`, 0.999, as
the paper's MoCo setting; `key_momentum` tells the trainer to), and the negatives are a queue
of *past* keys only, started as random unit vectors as MoCo does. For each query:
1. rank the queue by q·n and keep the top `n_hard` (N);
2. `s` synthetic negatives h = normalise(α nᵢ + (1 − α) nⱼ), α ~ U(0, 1), nᵢ, nⱼ drawn
   from N;
3. `s_prime` harder ones h′ = normalise(β q + (1 − β) nⱼ), β ~ U(0, 0.5);
4. InfoNCE over [k⁺, queue, h, h′] at temperature τ; no gradient flows through h, h′.
After a training step the batch's keys enter the queue (first in, first out) with the rows
they came from. A queued key of the anchor's own row (a stale key of its item) is left out of
its negatives and of its mixing: on ImageNet a 65,536 queue almost never holds one, here the
queue spans about two epochs of a small store, so half the anchors would meet one. In eval mode
(the trainer's held-out pass) nothing is enqueued and the mixing draws from a generator
re-seeded on every call, so a held-out loss is a function of the weights and the queue alone.

Sizes are ours, scaled to stores of thousands of rows: queue 4,096 (capped at the number of
training rows), MoCHi(N, s, s′) = (256, 128, 64); the paper
uses K = 16,384 (ImageNet-100) or 65,536 (ImageNet-1k) with e.g. (1024, 1024, 512).
"""

from __future__ import annotations

import numpy as np
import torch

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair


def mix_hard_negatives(
    q: torch.Tensor,
    negatives: torch.Tensor,
    n_hard: int,
    s: int,
    s_prime: int,
    generator: torch.Generator,
    exclude: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(B, s + s′, d) synthetic negatives per anchor and how each was made: the indices into
    `negatives` (i, j) and the weights (α, β) — for the reference test. `exclude` (B, M)
    marks negatives an anchor may not mix from."""
    q = q.detach()
    similarity, allowed = q @ negatives.T, len(negatives)
    if exclude is not None:
        similarity = similarity.masked_fill(exclude, float("-inf"))
        allowed -= int(exclude.sum(1).max())  # every row's top N is then all allowed
    top = similarity.topk(max(1, min(n_hard, allowed)), dim=1).indices  # (B, N)
    b, n = top.shape

    def pick(count: int) -> torch.Tensor:  # draws on the generator's CPU, used on q's device
        return top.gather(1, torch.randint(0, n, (b, count), generator=generator).to(top.device))

    i, j = pick(s), pick(s)
    alpha = torch.rand(b, s, 1, generator=generator).to(q)
    mixed = alpha * negatives[i] + (1 - alpha) * negatives[j]
    j_prime = pick(s_prime)
    beta = torch.rand(b, s_prime, 1, generator=generator).to(q) * 0.5
    harder = beta * q[:, None, :] + (1 - beta) * negatives[j_prime]
    out = torch.nn.functional.normalize(torch.cat([mixed, harder], dim=1), dim=-1)
    return out.detach(), {"i": i, "j": j, "alpha": alpha, "j_prime": j_prime, "beta": beta}


@LOSSES.register(
    "mochi",
    variant="queue of 4,096 momentum keys capped at the training rows and MoCHi(256, 128, 64), "
    "not the paper's ImageNet K = 16,384–65,536 and (1024, 1024, 512); positives from views, "
    "labels or neighbours of frozen embeddings instead of image augmentations",
)
class MoCHi(ContrastiveLoss):
    """InfoNCE against a queue of momentum keys plus mixed hard negatives; τ 0.2 (MoCo-v2)."""

    def __init__(
        self,
        tau: float = 0.2,
        queue_size: int = 4096,
        n_hard: int = 256,
        s: int = 128,
        s_prime: int = 64,
        momentum: float = 0.999,
        seed: int = 0,
    ) -> None:
        super().__init__(tau)
        if min(queue_size, n_hard) < 1 or min(s, s_prime) < 0:
            raise ValueError("queue_size and n_hard must be ≥ 1, s and s_prime ≥ 0")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.queue_size, self.n_hard, self.s, self.s_prime = queue_size, n_hard, s, s_prime
        self.key_momentum, self.seed = momentum, seed
        self.generator = torch.Generator().manual_seed(seed)
        self.register_buffer("queue", torch.empty(0), persistent=False)
        self.register_buffer("queue_rows", torch.empty(0, dtype=torch.long), persistent=False)

    def prepare(self, X: np.ndarray, y: np.ndarray | None, train: np.ndarray) -> None:
        self.queue_size = min(self.queue_size, len(train))

    def build(self, width: int) -> None:
        start = torch.randn(self.queue_size, width, generator=self.generator)
        self.queue = torch.nn.functional.normalize(start, dim=1)  # MoCo's random first queue
        self.queue_rows = torch.full((self.queue_size,), -1, dtype=torch.long)  # of no row

    def forward(self, batch: Pair) -> torch.Tensor:
        q, k = batch.z, batch.z_pos.detach()  # keys come from the momentum encoder
        if not self.queue.numel():
            self.build(q.shape[1])
        queue = self.queue.to(q.dtype)
        own = None  # (B, K): queued keys of the anchor's own row
        if batch.index is not None:
            own = self.queue_rows.to(q.device)[None, :] == batch.index[:, None]
        negatives = q @ queue.T
        if own is not None:
            negatives = negatives.masked_fill(own, float("-inf"))
        parts = [(q * k).sum(1, keepdim=True), negatives]  # (B, 1), (B, K)
        if self.s + self.s_prime:
            generator = self.generator
            if not self.training:  # the same draws on every held-out pass
                generator = torch.Generator().manual_seed(self.seed + 1)
            synthetic, _ = mix_hard_negatives(
                q, queue, self.n_hard, self.s, self.s_prime, generator, own
            )
            parts.append(torch.einsum("bd,bsd->bs", q, synthetic))
        logits = torch.cat(parts, dim=1) / self.tau
        loss = torch.nn.functional.cross_entropy(
            logits, torch.zeros(len(q), dtype=torch.long, device=q.device)
        )
        if self.training:
            self.queue = torch.cat([self.queue, k.to(self.queue.dtype)])[-self.queue_size :]
            rows = torch.full((len(k),), -1) if batch.index is None else batch.index
            rows = rows.to(self.queue_rows.device)
            self.queue_rows = torch.cat([self.queue_rows, rows])[-self.queue_size :]
        return loss
