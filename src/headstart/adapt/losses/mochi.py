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
After a training step the batch's keys enter the queue (first in, first out). In eval mode
(the trainer's held-out pass) nothing is enqueued and the mixing draws from a generator
re-seeded on every call, so a held-out loss is a function of the weights and the queue alone.

Sizes are ours, scaled to stores of thousands of rows: queue 4,096 (capped at the number of
training rows, so no key sits in the queue twice), MoCHi(N, s, s′) = (256, 128, 64); the paper
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
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(B, s + s′, d) synthetic negatives per anchor and how each was made: the indices into
    `negatives` (i, j) and the weights (α, β) — for the reference test."""
    q = q.detach()
    top = (q @ negatives.T).topk(min(n_hard, len(negatives)), dim=1).indices  # (B, N)
    b, n = top.shape
    pick = lambda count: top.gather(1, torch.randint(0, n, (b, count), generator=generator))  # noqa: E731
    i, j = pick(s), pick(s)
    alpha = torch.rand(b, s, 1, generator=generator)
    mixed = alpha * negatives[i] + (1 - alpha) * negatives[j]
    j_prime = pick(s_prime)
    beta = torch.rand(b, s_prime, 1, generator=generator) * 0.5
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

    def prepare(self, X: np.ndarray, y: np.ndarray | None, train: np.ndarray) -> None:
        self.queue_size = min(self.queue_size, len(train))

    def build(self, width: int) -> None:
        start = torch.randn(self.queue_size, width, generator=self.generator)
        self.queue = torch.nn.functional.normalize(start, dim=1)  # MoCo's random first queue

    def forward(self, batch: Pair) -> torch.Tensor:
        q, k = batch.z, batch.z_pos.detach()  # keys come from the momentum encoder
        if not self.queue.numel():
            self.build(q.shape[1])
        queue = self.queue.to(q.dtype)
        parts = [(q * k).sum(1, keepdim=True), q @ queue.T]  # (B, 1), (B, K)
        if self.s + self.s_prime:
            generator = self.generator
            if not self.training:  # the same draws on every held-out pass
                generator = torch.Generator().manual_seed(self.seed + 1)
            synthetic, _ = mix_hard_negatives(
                q, queue, self.n_hard, self.s, self.s_prime, generator
            )
            parts.append(torch.einsum("bd,bsd->bs", q, synthetic))
        logits = torch.cat(parts, dim=1) / self.tau
        loss = torch.nn.functional.cross_entropy(
            logits, torch.zeros(len(q), dtype=torch.long, device=q.device)
        )
        if self.training:
            self.queue = torch.cat([self.queue, k.to(self.queue.dtype)])[-self.queue_size :]
        return loss
