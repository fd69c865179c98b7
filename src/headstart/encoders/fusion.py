"""Folding eval-mode BatchNorm into the preceding convolution for faster inference.

y = γ (W x + b − μ) / √(σ² + ε) + β  =  W' x + b'  with  W' = W γ/√(σ²+ε),
b' = β + (b − μ) γ/√(σ²+ε). The model's outputs agree with the unfused model to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold `bn` into `conv` in place (conv gains a bias); the caller then drops `bn`."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bn.bias + (bias - bn.running_mean) * scale)


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every Conv2d directly followed by a BatchNorm2d, for models whose
    `conv_bn_pairs()` names them; BatchNorms become `nn.Identity`. Returns the model."""
    for parent, conv_name, bn_name in model.conv_bn_pairs():
        fold_batchnorm(getattr(parent, conv_name), getattr(parent, bn_name))
        setattr(parent, bn_name, nn.Identity())
    return model
