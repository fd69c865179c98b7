"""The selective scan of Mamba (S6) in plain torch, so MambaMIL runs on CPU.

For inputs u (B, L, D), step sizes Δ (B, L, D), A (D, N) with negative entries, and
input-dependent B_t, C_t (B, L, N), the state h_t (D, N) follows

    h_t = exp(Δ_t A) ⊙ h_{t−1} + (Δ_t u_t) ⊗ B_t,      y_t = h_t · C_t + D ⊙ u_t.

`selective_scan` evaluates it in chunks of `chunk` steps: inside a chunk, with P_t the running
sum of Δ_k A, h_t = Σ_{s≤t} exp(P_t − P_s) (Δ_s u_s ⊗ B_s) + exp(P_t) h_0 — every exponent is
≤ 0, so nothing overflows — and the last state carries into the next chunk. Memory per chunk
is B·chunk²·D·N.
"""

from __future__ import annotations

import torch


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    chunk: int = 16,
) -> torch.Tensor:
    """y (B, L, D) of the recurrence above, h_0 = 0."""
    batch, length, dim = u.shape
    state = u.new_zeros(batch, dim, A.shape[1])
    outputs = []
    for start in range(0, length, chunk):
        part = slice(start, min(start + chunk, length))
        d_a = delta[:, part, :, None] * A  # (B, T, D, N), ≤ 0
        running = torch.cumsum(d_a, dim=1)  # P_t
        inputs = (delta[:, part] * u[:, part])[..., None] * B[:, part, None, :]  # (B, T, D, N)
        steps = running.shape[1]
        gaps = running[:, :, None] - running[:, None, :]  # (B, T_t, T_s, D, N): P_t − P_s
        causal = torch.ones(steps, steps, dtype=torch.bool, device=u.device).tril()
        decay = torch.exp(gaps.masked_fill(~causal[None, :, :, None, None], float("-inf")))
        states = torch.einsum("btsdn,bsdn->btdn", decay, inputs)
        states = states + torch.exp(running) * state[:, None]
        outputs.append(torch.einsum("btdn,btn->btd", states, C[:, part]))
        state = states[:, -1]
    y = torch.cat(outputs, dim=1)
    return y if D is None else y + u * D
