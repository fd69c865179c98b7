"""Encoders: registered by name, each carrying a card; `encode_batch` gives float32 vectors."""

from headstart.encoders import (  # noqa: F401  (registers the encoders)
    bundled,
    clip,
    conse,
    hf_adapter,
    open_clip_adapter,
    raw_pixels,
    sentence,
    tfidf,
    timm_adapter,
    tuned_sentence,
)
from headstart.encoders.base import Encoder
from headstart.encoders.registry import ENCODERS, create_encoder, list_encoders

__all__ = ["ENCODERS", "Encoder", "create_encoder", "list_encoders"]
