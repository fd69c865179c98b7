"""`conse`: a joint image–text space from an ImageNet classifier and a text encoder.

ConSE (Norouzi et al., ICLR 2014): an image maps to the convex combination of the text
embeddings of its T most probable ImageNet classes, weighted by their posteriors,
f(x) = Σ_t p(y_t|x) s(y_t) / Σ_t p(y_t|x). Class prompts embedded by the same text encoder
then live in the same space, so zero-shot heads work on images with no image–text model.
Default: EfficientNet-Lite0 logits and MiniLM; class names from timm's ImageNet data file.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from headstart.encoders.base import Encoder
from headstart.encoders.registry import ENCODERS, create_encoder
from headstart.exceptions import MissingExtraError


def imagenet_class_names(first_lemma_only: bool = True) -> list[str]:
    """The 1,000 ImageNet-1k class names in model index order, from timm's data files."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "ImageNet class names are read from timm's data files: pip install --no-deps timm"
        )
    info = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info"
    lemmas = dict(
        line.split("\t", 1)
        for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines()
    )
    names = [lemmas[s] for s in (info / "imagenet_synsets.txt").read_text().split()]
    return [n.split(",")[0].strip() for n in names] if first_lemma_only else names


def conse_combine(logits: np.ndarray, name_vectors: np.ndarray, top: int) -> np.ndarray:
    """(n, C) classifier logits → (n, d): the posterior-weighted mean of the top-`top` class
    name vectors, weights renormalised over those classes."""
    probabilities = torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1)
    weights, index = torch.topk(probabilities, top, dim=1)  # (n, T)
    weights = (weights / weights.sum(dim=1, keepdim=True)).numpy()
    combined = np.einsum("nt,ntd->nd", weights, name_vectors[index.numpy()])
    return combined.astype(np.float32)


class ConSEEncoder(Encoder):
    """Images → posterior-weighted mean of class-name text embeddings (the text space)."""

    default_templates = ("{}",)  # images are mixtures of bare class names

    def __init__(
        self, image: Encoder, text: Encoder, class_names: Sequence[str], top: int = 10
    ) -> None:
        if image.card.output_dim != len(class_names):
            raise ValueError(
                f"{image.name} gives {image.card.output_dim} outputs for {len(class_names)} names"
            )
        if not 1 <= top <= len(class_names):
            raise ValueError(f"top must be in 1..{len(class_names)}, got {top}")
        self.image, self.text, self.top = image, text, top
        self.name_vectors = text.encode_text(list(class_names))  # (C, d)
        names_digest = hashlib.sha256("\n".join(class_names).encode()).hexdigest()[:16]
        self.card = replace(
            image.card,
            name="conse",
            output="conse",
            output_dim=text.card.output_dim,
            extra={
                "image_encoder": image.card.digest(),
                "text_encoder": text.card.digest(),
                "top": top,
                "class_names_sha256": names_digest,
            },
        )
        self.preprocessor = image.preprocessor

    def encode_batch(self, prepared: Sequence[np.ndarray]) -> np.ndarray:
        return conse_combine(self.image.encode_batch(prepared), self.name_vectors, self.top)

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Class prompts in the same space as the images."""
        return self.text.encode_text(texts, batch_size)


@ENCODERS.register(
    "conse", "ConSE joint space: EfficientNet-Lite0 ImageNet posteriors × MiniLM names: 384-d"
)
def create_conse(
    image: str = "efficientnet-lite0", text: str = "minilm", top: int = 10, device: str = "cpu"
) -> ConSEEncoder:
    """`image` must be an ImageNet-1k classifier encoder with a `logits` output."""
    image_encoder = create_encoder(image, output="logits", device=device)
    text_encoder = create_encoder(text, device=device)
    return ConSEEncoder(image_encoder, text_encoder, imagenet_class_names(), top)
