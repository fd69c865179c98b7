"""The encoder registry: `create_encoder(name, **options)` and `list_encoders()`."""

from __future__ import annotations

from typing import Any

from headstart.encoders.base import Encoder
from headstart.exceptions import DataError
from headstart.extras import require  # noqa: F401  (encoders import it from here)
from headstart.registry import Registry

ENCODERS: Registry[Encoder] = Registry("encoder")


def create_encoder(name: str, **options: Any) -> Encoder:
    """Build a registered encoder (`efficientnet-lite0`, `timm:<name>`, ...).

    The encoder remembers how it was made (`recipe`: name and options other than the device),
    so a store can record it and a fitted model can rebuild the same encoder later.
    """
    device = str(options.get("device", "cpu"))
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DataError(
                f"device {device!r} was asked for, but this torch build has no CUDA device "
                f"(torch {torch.__version__}); use --device cpu"
            )
    encoder = ENCODERS.create(name, **options)
    encoder.recipe = {"name": name, "options": {k: v for k, v in options.items() if k != "device"}}
    return encoder


def list_encoders() -> list[tuple[str, str]]:
    """(name, one-line summary) for every registered encoder."""
    return [(n, e.summary) for n, e in zip(ENCODERS.names(), ENCODERS, strict=True)]
