"""`TorchImageEncoder`: any torch image model behind the `Encoder` contract.

Batches of uint8 NHWC arrays become a normalised channels-last float tensor without a copy
per image, and run under `torch.inference_mode` on the chosen device and precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from headstart.cards import EncoderCard
from headstart.encoders.base import Encoder
from headstart.encoders.preprocess import ImagePreprocessor

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class TorchImageEncoder(Encoder):
    """Wraps `forward(x: (B, 3, S, S) float) -> (B, dim)` with preprocessing from the card."""

    def __init__(
        self,
        card: EncoderCard,
        forward: Callable[[torch.Tensor], torch.Tensor],
        module: torch.nn.Module,
        device: str = "cpu",
        precision: str = "fp32",
        channels_last: bool = True,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        self.card = card
        self.device = torch.device(device)
        self.precision = precision
        self.channels_last = channels_last
        self.module = module.eval().to(self.device)
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        self.forward = forward
        self.preprocessor = ImagePreprocessor(card)
        mean = torch.tensor(card.mean, dtype=torch.float32) * 255.0
        std = torch.tensor(card.std, dtype=torch.float32) * 255.0
        self._mean = mean.view(1, -1, 1, 1).to(self.device)
        self._std = std.view(1, -1, 1, 1).to(self.device)

    def to_tensor(self, prepared: Sequence[np.ndarray]) -> torch.Tensor:
        """Stack uint8 HWC arrays into a normalised (B, C, S, S) float tensor on the device."""
        batch = torch.from_numpy(np.stack(prepared)).to(self.device, non_blocking=True)
        x = batch.permute(0, 3, 1, 2).float()  # (B, C, S, S), channels-last strides
        x = (x - self._mean) / self._std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def encode_batch(self, prepared: Sequence[np.ndarray]) -> np.ndarray:
        if len(prepared) == 0:
            return np.empty((0, self.card.output_dim), np.float32)
        dtype = PRECISIONS[self.precision]
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None
            ),
        ):
            out = self.forward(self.to_tensor(prepared))
        return out.float().cpu().numpy()
