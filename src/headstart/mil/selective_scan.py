"""The selective scan of Mamba (S6) in plain torch, so MambaMIL runs on CPU.

For inputs u (B, L, D), step sizes Δ (B, L, D), A (D, N) with negative entries, and
input-dependent B_t, C_t (B, L, N), the state h_t (D, N) follows

    h_t = a_t ⊙ h_{t−1} + b_t,   a_t = exp(Δ_t A),   b_t = (Δ_t u_t) ⊗ B_t,
    y_t = h_t · C_t + D ⊙ u_t.

The recurrence runs step by step, forward and (hand-written) backward, on (B, D, N) slices
small enough to stay in cache: O(L·D·N) work, with the states and decays a_t saved as two
(B, L, D, N) tensors. (Autograd over the loop allocated and filled a full-size gradient per
step; a chunked closed form with exp of running sums of ΔA costs T times the work for
chunks of T steps: a fit on UCSB took 140 s.) The backward of h_t = a_t h_{t−1} + b_t is the
reverse recurrence g_t = ∂L/∂y_t ⊗ C_t + a_{t+1} g_{t+1}, with ∂L/∂(Δ_t A) = g_t ⊙ a_t ⊙ h_{t−1}
and ∂L/∂b_t = g_t.
"""

from __future__ import annotations

import torch


class SelectiveScan(torch.autograd.Function):
    """y_t = h_t · C_t of the recurrence above, h_0 = 0 (without the D skip term).

    Every per-step product is an elementwise op on a (B, D, N) slice: batched mat-vec
    products (bmm) of this shape cost several times more on CPU.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C):
        batch, length, dim = u.shape
        step_input = delta * u  # Δ_t u_t (B, L, D)
        decays = u.new_empty(batch, length, dim, A.shape[-1])  # a_t, kept for the backward
        states = torch.empty_like(decays)
        y = u.new_empty(batch, length, dim)
        h = u.new_zeros(batch, dim, A.shape[-1])
        for t in range(length):
            decay = torch.exp_(torch.mul(delta[:, t, :, None], A, out=decays[:, t]))
            h = torch.addcmul(decay * h, step_input[:, t, :, None], B[:, t, None, :])
            states[:, t] = h
            torch.sum(h * C[:, t, None, :], dim=-1, out=y[:, t])
        ctx.save_for_backward(u, delta, A, B, C, step_input, decays, states)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        u, delta, A, B, C, step_input, decays, states = ctx.saved_tensors
        batch, length, dim = u.shape
        grad_u, grad_delta = torch.empty_like(u), torch.empty_like(u)
        grad_B, grad_C = torch.empty_like(B), torch.empty_like(C)
        grad_A = u.new_zeros(batch, dim, A.shape[-1])  # summed over the batch at the end
        g = u.new_zeros(batch, dim, A.shape[-1])  # ∂L/∂h_t
        for t in reversed(range(length)):
            if t + 1 < length:
                g = g * decays[:, t + 1]
            g = torch.addcmul(g, grad_y[:, t, :, None], C[:, t, None, :])
            torch.sum(grad_y[:, t, :, None] * states[:, t], dim=1, out=grad_C[:, t])
            sum_b = torch.sum(g * B[:, t, None, :], dim=-1)  # Σ_n g B_t  (B, D)
            torch.mul(sum_b, delta[:, t], out=grad_u[:, t])
            torch.sum(g * step_input[:, t, :, None], dim=1, out=grad_B[:, t])
            grad_delta[:, t] = sum_b * u[:, t]
            if t:  # ∂/∂(Δ_t A) = g ⊙ a_t ⊙ h_{t−1}; h_0 = 0 has none
                d_a = g * decays[:, t] * states[:, t - 1]
                grad_delta[:, t] += torch.sum(d_a * A, dim=-1)
                grad_A.addcmul_(d_a, delta[:, t, :, None])
        return grad_u, grad_delta, grad_A if A.dim() == 3 else grad_A.sum(0), grad_B, grad_C


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
) -> torch.Tensor:
    """y (B, L, D) of the recurrence above, h_0 = 0. A is (D, N), or (B, D, N) for sequences
    with parameters of their own (MambaMIL's two scan orders in one call)."""
    y = SelectiveScan.apply(u, delta, A, B, C)
    return y if D is None else y + u * D
