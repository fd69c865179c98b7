"""`hf:<repo>`: a Hugging Face transformers vision model as an encoder.

CLIP-style models give `get_image_features`; others give their pooled output, else the mean of
the last hidden state. Preprocessing reads mean/std/size from the repo's image processor
config and runs in headstart's own PIL pipeline. Needs the `hf` extra and the hub (or cache).
"""

from __future__ import annotations

from typing import Any

import torch

from headstart.cards import EncoderCard
from headstart.encoders.registry import ENCODERS, require
from headstart.encoders.torch_image import TorchImageEncoder
from headstart.exceptions import WeightsUnavailableError


def pooled_image_features(model: Any) -> Any:
    """The function mapping pixel values to one vector per image for this kind of model."""
    if hasattr(model, "get_image_features"):

        def forward(x: torch.Tensor) -> torch.Tensor:
            out = model.get_image_features(pixel_values=x)
            return out if isinstance(out, torch.Tensor) else out.pooler_output

        return forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = model(pixel_values=x)
        if getattr(out, "pooler_output", None) is not None:
            return out.pooler_output.flatten(1)
        hidden = out.last_hidden_state
        return hidden.mean(dim=1) if hidden.ndim == 3 else hidden.mean(dim=(2, 3))

    return forward


def _output_dim(model: Any, forward: Any, size: int) -> int:
    with torch.inference_mode():
        return int(forward(torch.zeros(1, 3, size, size)).shape[-1])


@ENCODERS.register(
    "hf", "Hugging Face vision model, e.g. hf:google/vit-base-patch16-224", prefix=True
)
def create_hf(
    repo: str,
    device: str = "cpu",
    precision: str = "fp32",
    resize: str = "center-crop",
    revision: str | None = None,
) -> TorchImageEncoder:
    """Load `repo` with transformers' AutoModel (or the repo's own CLIPModel)."""
    require("transformers", "hf", f"encoder 'hf:{repo}'")
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(repo, revision=revision)
        model_class = (
            transformers.CLIPModel if config.model_type == "clip" else transformers.AutoModel
        )
        model = model_class.from_pretrained(repo, revision=revision).eval()
        processor = transformers.AutoImageProcessor.from_pretrained(repo, revision=revision)
    except OSError as error:
        raise WeightsUnavailableError(f"could not load hf:{repo} ({error})") from error
    size = processor.crop_size if getattr(processor, "do_center_crop", False) else processor.size
    side = int(size.get("height") or size.get("shortest_edge") if isinstance(size, dict) else size)
    forward = pooled_image_features(model)
    card = EncoderCard(
        name=f"hf:{repo}",
        modality="image",
        output_dim=_output_dim(model, forward, side),
        weights=f"hf:{repo}@{revision or getattr(config, '_commit_hash', None) or 'main'}",
        input_size=side,
        mean=tuple(processor.image_mean),
        std=tuple(processor.image_std),
        resize=resize,
        crop_pct=1.0,
        interpolation="bicubic",
        versions={
            "torch": torch.__version__.split("+")[0],
            "transformers": transformers.__version__,
        },
        extra={"precision": precision},
    )
    return TorchImageEncoder(
        card, forward, model, device=device, precision=precision, channels_last=False
    )
