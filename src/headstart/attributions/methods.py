"""Attribution methods, from captum (the implementation, not a copy): each maps pixels
(B, C, S, S) and target classes to one attribution per pixel value, same shape.

- gradient: ∂score/∂pixel (captum `Saliency`, signed);
- input-x-gradient: pixel × gradient (`InputXGradient`);
- integrated-gradients: from a black image, 50 steps (`IntegratedGradients`, Gauss–Legendre);
- smoothgrad: the gradient averaged over 25 copies with Gaussian noise of σ = 15% of the
  pixel range (`NoiseTunnel(Saliency)`; Smilkov et al. 2017 suggest 10–20%).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from headstart.extras import require
from headstart.registry import Registry

Method = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
ATTRIBUTIONS: Registry[Method] = Registry("attribution")
NOISE = 0.15 * 255.0  # SmoothGrad's σ on 0–255 pixels
SAMPLES = 25
STEPS = 50


def _method(name: str, summary: str):
    def decorate(function: Method) -> Method:
        ATTRIBUTIONS.register(name, summary)(lambda: function)
        return function

    return decorate


@_method("gradient", "vanilla input gradients (captum Saliency, signed)")
def gradient(model: torch.nn.Module, pixels: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from captum.attr import Saliency

    return Saliency(model).attribute(pixels, target=target, abs=False)


@_method("input-x-gradient", "pixel × gradient (captum InputXGradient)")
def input_x_gradient(model, pixels, target) -> torch.Tensor:
    from captum.attr import InputXGradient

    return InputXGradient(model).attribute(pixels, target=target)


@_method("integrated-gradients", "integrated gradients from a black image, 50 steps")
def integrated_gradients(model, pixels, target) -> torch.Tensor:
    from captum.attr import IntegratedGradients

    method = IntegratedGradients(model)
    return method.attribute(
        pixels, baselines=torch.zeros_like(pixels), target=target, n_steps=STEPS
    )


@_method("smoothgrad", "gradients averaged over 25 noisy copies (σ = 15% of the range)")
def smoothgrad(model, pixels, target) -> torch.Tensor:
    from captum.attr import NoiseTunnel, Saliency

    tunnel = NoiseTunnel(Saliency(model))
    return tunnel.attribute(
        pixels, nt_type="smoothgrad", nt_samples=SAMPLES, stdevs=NOISE, target=target, abs=False
    )


def attribute(
    model: torch.nn.Module,
    pixels: torch.Tensor,
    target: np.ndarray | torch.Tensor,
    method: str,
    seed: int = 0,
) -> np.ndarray:
    """Attributions (B, C, S, S) of `model`'s score of class index `target` (one per image)
    by `method` (SmoothGrad's noise seeded)."""
    require("captum", "robustness", "input attributions")
    function = ATTRIBUTIONS.create(method)
    torch.manual_seed(seed)
    target = torch.as_tensor(np.asarray(target), dtype=torch.long)
    pixels = pixels.detach().clone().requires_grad_(True)
    return function(model, pixels, target).detach().cpu().numpy()
