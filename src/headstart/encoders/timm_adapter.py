"""`timm:<model>`: any timm image model as an encoder (pooled pre-logits features).

Preprocessing follows the model's pretrained config (input size, mean/std, crop, interpolation).
Needs the `timm` extra; weights come from the Hugging Face hub unless `pretrained=False`.
"""

from __future__ import annotations

import torch

from headstart.cards import EncoderCard
from headstart.encoders.registry import ENCODERS, require
from headstart.encoders.torch_image import TorchImageEncoder
from headstart.exceptions import MissingExtraError, WeightsUnavailableError


@ENCODERS.register("timm", "any timm model by name, e.g. timm:vit_base_patch16_224", prefix=True)
def create_timm(
    model_name: str,
    pretrained: bool = True,
    device: str = "cpu",
    precision: str = "fp32",
    resize: str = "center-crop",
    seed: int = 0,
) -> TorchImageEncoder:
    """timm model `model_name` without its classifier; `pretrained=False` for random weights
    drawn with `seed` (so the card, and hence the cache key, pins them down)."""
    require("timm", "timm", f"encoder 'timm:{model_name}'")
    try:
        import timm
    except ImportError as error:  # e.g. timm installed without a working torchvision
        raise MissingExtraError(f"timm is installed but does not import: {error}") from error

    torch.manual_seed(seed)
    try:
        model = timm.create_model(model_name, pretrained=pretrained, num_classes=0)
    except RuntimeError as error:
        if "Unknown model" in str(error):
            close = timm.list_models(f"*{model_name.split('_')[0]}*")[:5]
            raise WeightsUnavailableError(
                f"timm has no model {model_name!r}; e.g. {close}"
            ) from error
        raise
    except OSError as error:  # hub unreachable or weights missing
        raise WeightsUnavailableError(
            f"could not fetch pretrained weights for timm:{model_name} ({error}). Check the "
            "network or the HF cache, or pass pretrained=False for random weights."
        ) from error
    config = timm.data.resolve_data_config({}, model=model)
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    card = EncoderCard(
        name=f"timm:{model_name}",
        modality="image",
        output_dim=model.num_features,
        weights=(cfg.get("hf_hub_id") or cfg.get("url") or "timm")
        if pretrained
        else f"random:{seed}",
        input_size=int(config["input_size"][-1]),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        resize=resize,
        crop_pct=float(config.get("crop_pct", 1.0)),
        interpolation=str(config.get("interpolation", "bicubic")),
        versions={"torch": torch.__version__.split("+")[0], "timm": timm.__version__},
        extra={"precision": precision, "pretrained_tag": cfg.get("tag", "")},
    )
    return TorchImageEncoder(card, model, model, device=device, precision=precision)
