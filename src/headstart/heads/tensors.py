"""NumPy ↔ torch for heads: float64 on CPU (exact closed forms), float32 on GPUs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def device_dtype(device: str) -> torch.dtype:
    """float64 on CPU, where it is cheap enough and matches reference formulas; float32 else."""
    return torch.float64 if torch.device(device).type == "cpu" else torch.float32


def as_tensor(array: Any, device: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A tensor on `device` (no copy when the array already fits)."""
    return torch.as_tensor(np.asarray(array), dtype=dtype or device_dtype(device), device=device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """float64 NumPy array of a tensor from any device."""
    return tensor.detach().to("cpu", torch.float64).numpy()
