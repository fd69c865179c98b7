"""MoCHi — hard negative mixing (Kalantidis et al., NeurIPS 2020) on a MoCo-style memory queue.

For each anchor q, its positive k⁺ and negatives from a queue of past positives (detached;
the current batch's other positives join them, so the first step has negatives too):
1. rank the negatives by q·n and keep the top `n_hard` (N);
2. `s` synthetic negatives h = normalise(α nᵢ + (1 − α) nⱼ), α ~ U(0, 1), nᵢ, nⱼ drawn
   from N (mixed from the queue: none on the first step, when it is empty);
3. `s_prime` harder ones h′ = normalise(β q + (1 − β) nⱼ), β ~ U(0, 0.5);
4. InfoNCE over [k⁺, negatives, h, h′] at temperature τ; no gradient flows through h, h′.
The positives of each step then enter the queue (first in, first out, `queue_size`).
Defaults follow the paper's MoCHi(N, s, s′) notation scaled to small stores: (256, 128, 64).
"""

from __future__ import annotations

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


@LOSSES.register("mochi")
class MoCHi(ContrastiveLoss):
    """InfoNCE against a queue plus mixed hard negatives; `tau` 0.2 as the paper's MoCo-v2."""

    def __init__(
        self,
        tau: float = 0.2,
        queue_size: int = 4096,
        n_hard: int = 256,
        s: int = 128,
        s_prime: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(tau)
        if min(queue_size, n_hard) < 1 or min(s, s_prime) < 0:
            raise ValueError("queue_size and n_hard must be ≥ 1, s and s_prime ≥ 0")
        self.queue_size, self.n_hard, self.s, self.s_prime = queue_size, n_hard, s, s_prime
        self.generator = torch.Generator().manual_seed(seed)
        self.register_buffer("queue", torch.empty(0), persistent=False)

    def forward(self, batch: Pair) -> torch.Tensor:
        q, k = batch.z, batch.z_pos
        b = len(q)
        others = k.detach()
        queue = self.queue if self.queue.numel() else others[:0]
        negatives = torch.cat([queue, others])  # (M + B, d); row m + a is anchor a's own k⁺
        own = torch.arange(b) + len(queue)
        mask = torch.zeros(b, len(negatives), dtype=torch.bool)
        mask[torch.arange(b), own] = True
        logits_neg = (q @ negatives.T).masked_fill(mask, float("-inf"))
        parts = [(q * k).sum(1, keepdim=True), logits_neg]
        if self.s + self.s_prime and len(queue):  # mixed from the queue, as the paper
            synthetic, _ = mix_hard_negatives(
                q, queue, self.n_hard, self.s, self.s_prime, self.generator
            )
            parts.append(torch.einsum("bd,bsd->bs", q, synthetic))
        logits = torch.cat(parts, dim=1) / self.tau
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(b, dtype=torch.long))
        if self.training:
            self.queue = torch.cat([queue, others])[-self.queue_size :]
        return loss
