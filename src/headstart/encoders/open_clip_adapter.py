"""`open_clip:<arch>/<tag>`: an open_clip model (ViT-B-32/laion2b_s34b_b79k) as a joint
image–text encoder.

Image vectors are the projected embeddings (`encode_image`); `encode_text` tokenizes prompts
with the architecture's tokenizer and returns `encode_text` vectors in the same space.
Needs the `clip` extra; weights come from the hub named by the pretrained tag.
"""

from __future__ import annotations

import torch

from headstart.cards import EncoderCard
from headstart.encoders.clip import JointImageEncoder
from headstart.encoders.registry import ENCODERS, require
from headstart.exceptions import WeightsUnavailableError


@ENCODERS.register(
    "open_clip", "open_clip image tower, e.g. open_clip:ViT-B-32/openai", prefix=True
)
def create_open_clip(
    spec: str, device: str = "cpu", precision: str = "fp32", resize: str = "center-crop"
) -> JointImageEncoder:
    """`spec` is `<architecture>/<pretrained tag>`; the tag may be empty for random weights."""
    require("open_clip", "clip", f"encoder 'open_clip:{spec}'")
    import open_clip

    arch, _, tag = spec.partition("/")
    try:
        model = open_clip.create_model(arch, pretrained=tag or None)
    except (RuntimeError, OSError) as error:
        raise WeightsUnavailableError(
            f"could not create open_clip model {arch!r} with weights {tag!r}: {error}"
        ) from error
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple | list) else size
    card = EncoderCard(
        name=f"open_clip:{spec}",
        modality="image",
        output_dim=int(getattr(model.visual, "output_dim", 0)),
        weights=f"open_clip:{arch}/{tag}" if tag else "random",
        input_size=int(size),
        mean=tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
        std=tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
        resize=resize,
        crop_pct=1.0,
        interpolation=str(cfg.get("interpolation", "bicubic")),
        versions={"torch": torch.__version__.split("+")[0], "open_clip": open_clip.__version__},
        extra={"precision": precision},
    )
    tokenizer = open_clip.get_tokenizer(arch)
    target = torch.device(device)

    def text_features(texts: list[str]) -> torch.Tensor:
        return model.encode_text(tokenizer(texts).to(target))

    return JointImageEncoder(
        card, model.encode_image, model, device=device, precision=precision, text=text_features
    )
