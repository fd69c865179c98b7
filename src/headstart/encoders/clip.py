"""`clip:<repo or folder>`: a Hugging Face `CLIPModel` as a joint image–text encoder.

Images go through headstart's PIL pipeline (mean, std and size from the repo's image
processor config when it has one, else CLIP's) and `get_image_features`; class prompts go
through the repo's tokenizer and `get_text_features`. Both land in CLIP's projection space,
so zero-shot heads can compare them. Needs the `hf` extra; weights from the hub or a folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.cards import EncoderCard
from headstart.encoders.hf_adapter import pooled_image_features
from headstart.encoders.registry import ENCODERS, require
from headstart.encoders.torch_image import TorchImageEncoder
from headstart.exceptions import WeightsUnavailableError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class JointImageEncoder(TorchImageEncoder):
    """An image encoder with a text side in the same space (`encode_text`)."""

    def __init__(self, *args: Any, text: Callable[[list[str]], torch.Tensor], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._text = text

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Class prompts (or any texts) → (n, output_dim) float32 in the image space."""
        out = [np.empty((0, self.card.output_dim), np.float32)]
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                vectors = self._text(list(texts[start : start + batch_size]))
                out.append(vectors.float().cpu().numpy())
        return np.concatenate(out)


def _image_processor_values(source: str, revision: str | None) -> dict[str, Any]:
    """mean, std and size from the repo's preprocessor_config.json (folder or hub)."""
    folder = Path(source)
    path = folder / "preprocessor_config.json" if folder.is_dir() else None
    if path is None:
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(source, "preprocessor_config.json", revision=revision))
        except Exception:  # no processor config: CLIP's own constants apply
            return {}
    return json.loads(path.read_text()) if path.is_file() else {}


@ENCODERS.register(
    "clip",
    "Hugging Face CLIP, images and texts, e.g. clip:openai/clip-vit-base-patch32",
    prefix=True,
)
def create_clip(
    source: str,
    device: str = "cpu",
    precision: str = "fp32",
    resize: str = "center-crop",
    revision: str | None = None,
) -> JointImageEncoder:
    """`source` is a hub repo id or a folder written by `CLIPModel.save_pretrained`."""
    require("transformers", "hf", f"encoder 'clip:{source}'")
    import transformers

    try:
        model = transformers.CLIPModel.from_pretrained(source, revision=revision).eval()
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, revision=revision)
    except (OSError, ValueError) as error:
        raise WeightsUnavailableError(f"could not load clip:{source} ({error})") from error
    processor = _image_processor_values(source, revision)
    side = int(model.config.vision_config.image_size)
    max_tokens = int(model.config.text_config.max_position_embeddings)
    target = torch.device(device)

    def text_features(texts: list[str]) -> torch.Tensor:
        tokens = tokenizer(
            texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
        ).to(target)
        out = model.get_text_features(**tokens)
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    card = EncoderCard(
        name=f"clip:{source}",
        modality="image",
        output_dim=int(model.config.projection_dim),
        weights=f"hf:{source}@{revision or getattr(model.config, '_commit_hash', None) or 'local'}",
        input_size=side,
        mean=tuple(processor.get("image_mean", CLIP_MEAN)),
        std=tuple(processor.get("image_std", CLIP_STD)),
        resize=resize,
        crop_pct=1.0,
        interpolation="bicubic",
        versions={
            "torch": torch.__version__.split("+")[0],
            "transformers": transformers.__version__,
        },
        extra={"precision": precision, "text_max_tokens": max_tokens},
    )
    return JointImageEncoder(
        card,
        pooled_image_features(model),
        model,
        device=device,
        precision=precision,
        channels_last=False,
        text=text_features,
    )
