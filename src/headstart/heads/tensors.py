"""NumPy ↔ torch for heads: float64 on CPU (exact closed forms), float32 on GPUs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


@torch.no_grad()
def ema_update(target: torch.nn.Module, source: torch.nn.Module, momentum: float) -> None:
    """target ← m·target + (1 − m)·source, parameter by parameter (MoCo keys, EMA teachers)."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)


def device_dtype(device: str) -> torch.dtype:
    """float64 on CPU, where it is cheap enough and matches reference formulas; float32 else."""
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32


def as_tensor(array: Any, device: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A tensor on `device` (no copy when the array already fits)."""
    return torch.as_tensor(np.asarray(array), dtype=dtype or device_dtype(device), device=device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """float64 NumPy array of a tensor from any device."""
    return tensor.detach().to("cpu", torch.float64).numpy()


PRECISIONS = {"auto": None, "float64": torch.float64, "float32": torch.float32}
FLOAT32_ABOVE = 10_000_000  # values in X above which "auto" computes in float32


def compute_dtype(precision: str, X: np.ndarray, device: str) -> torch.dtype:
    """The dtype a head computes in: "auto" is float64 on CPU for small data, float32 for
    large data (the big products are bound by reading X from memory) and on GPUs."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    chosen = PRECISIONS[precision]
    if chosen is not None:
        return chosen
    return torch.float32 if X.size > FLOAT32_ABOVE else device_dtype(device)


def product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b. On CPU through NumPy: its BLAS (OpenBLAS) ran large products about twice as
    fast as torch's MKL on the AMD EPYC benchmark machine (benchmarks/RESULTS.md)."""
    if a.device.type == "cpu" and b.device.type == "cpu":
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b
