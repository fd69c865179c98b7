"""Head ∘ encoder as one torch module, from the encoder's prepared pixels (B, C, S, S; floats
0–255, what the encoder's preprocessing hands it) to class scores: the function attributions
differentiate. Encoders: torch image models and raw pixels; heads: linear ones (linear probe,
GDA, naive Bayes, DFR, group reweighting) and the MLP, behind l2-normalize, center or
pca-whiten."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from headstart.encoders import Encoder
from headstart.encoders.raw_pixels import RawPixels
from headstart.encoders.torch_image import TorchImageEncoder
from headstart.exceptions import DataError
from headstart.heads.base import LinearHead
from headstart.heads.mlp import MLP
from headstart.heads.transforms import Center, L2Normalize, PCAWhiten
from headstart.heads.views import final_step


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32))


class DifferentiableModel(torch.nn.Module):
    """pixels (B, C, S, S) → scores (B, K) in float32, gradients flowing to the pixels."""

    def __init__(self, encoder: Encoder, model: Any) -> None:
        super().__init__()
        self.encoder = encoder
        head = final_step(model)
        if not isinstance(head, LinearHead | MLP):
            raise DataError(
                f"attributions are computed for linear heads (linear-probe, gda, gaussian-nb, "
                f"dfr, group-reweighted) and the mlp; this model's head is {type(head).__name__}"
            )
        self.steps = list(model.steps[:-1]) if hasattr(model, "steps") else []
        for name, step in self.steps:
            if not isinstance(step, L2Normalize | Center | PCAWhiten):
                raise DataError(f"attributions cannot pass through transform {name!r}")
        if isinstance(head, MLP):  # one hidden ReLU layer, then the output layer
            self.hidden = (_tensor(head.W1_), _tensor(head.b1_))
            self.coef, self.intercept = _tensor(head.W2_), _tensor(head.b2_)
        else:
            self.hidden = None
            self.coef, self.intercept = _tensor(head.coef_), _tensor(head.intercept_)
        if isinstance(encoder, TorchImageEncoder):
            encoder.module.float()
        elif not isinstance(encoder, RawPixels):
            raise DataError(
                f"attributions need a differentiable image encoder (a torch model or "
                f"raw-pixels); {encoder.name!r} is not one"
            )

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """The encoder's vectors of prepared pixels, differentiably."""
        if isinstance(self.encoder, RawPixels):  # HWC order, scaled to [0, 1], as it stores
            return pixels.permute(0, 2, 3, 1).reshape(len(pixels), -1) / 255.0
        encoder = self.encoder
        x = (pixels - encoder._mean) / encoder._std
        return encoder.forward(x).float()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        z = self.features(pixels)
        for _, step in self.steps:
            if isinstance(step, L2Normalize):
                z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
            elif isinstance(step, Center):
                z = z - _tensor(step.mean_)
            else:
                z = (z - _tensor(step.mean_)) @ _tensor(step.components_).T * _tensor(step.scale_)
        if self.hidden is not None:
            weight, bias = self.hidden
            z = torch.relu(z @ weight.T + bias)
        return z @ self.coef.T + self.intercept


def differentiable_model(encoder: Encoder, model: Any) -> DifferentiableModel:
    """Head ∘ encoder for attributions (in eval mode, on the CPU or the encoder's device)."""
    if encoder.card.modality != "image":
        raise DataError(
            f"attributions are computed on images; encoder {encoder.name!r} takes "
            f"{encoder.card.modality} items"
        )
    return DifferentiableModel(encoder, model).eval()


def prepared_pixels(encoder: Encoder, items: list[Any]) -> torch.Tensor:
    """Items (paths, arrays) as the encoder prepares them, as a (B, C, S, S) float tensor."""
    arrays = np.stack([encoder.prepare(item) for item in items])
    return torch.as_tensor(arrays, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()
