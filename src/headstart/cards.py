"""Encoder cards: the flat record of everything that determines an encoder's output.

A card is provenance. The embedding store hashes it (with the dataset fingerprint) into its
cache key, so two runs share a store only when every field here agrees.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESIZE_POLICIES = ("center-crop", "squash")


@dataclass(frozen=True)
class EncoderCard:
    """What an encoder is: weights, preprocessing, output, and the library versions used."""

    name: str
    modality: str  # "image" or "text"
    output_dim: int
    output: str = "features"  # which tensor is returned: "features", "logits", ...
    weights: str = ""  # where the weights came from (package file, hub id, "random")
    weights_sha256: str = ""
    input_size: int = 0  # square side in pixels for images; max tokens for text
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    resize: str = "center-crop"  # one of RESIZE_POLICIES
    crop_pct: float = 1.0  # center-crop: resize shorter side to input_size / crop_pct first
    interpolation: str = "bicubic"
    color: str = "RGB"
    preprocessing: str = "pil-box-crop/1"  # version of headstart's decode + resize code
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderCard:
        """Inverse of `to_dict`."""
        values = dict(data)
        values["mean"] = tuple(values.get("mean", ()))
        values["std"] = tuple(values.get("std", ()))
        return cls(**values)

    def digest(self) -> str:
        """sha256 of the card's canonical JSON: changes whenever any field changes."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
