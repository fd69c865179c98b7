"""Items handed in at query time (image files or uploads, texts, vectors) turned into the
vectors a saved model or index expects: its own encoder rebuilt from the recipe it recorded,
checked against the card it was built with, and the query's modality checked first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.cards import EncoderCard
from headstart.datasets.image_decoding import ItemError
from headstart.encoders import create_encoder
from headstart.exceptions import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def rebuild_encoder(recipe: dict[str, Any] | None, card: dict[str, Any], what: str) -> Any:
    """The encoder `what` was built with, from its recipe; refused if its card differs now
    (other weights would give meaningless neighbours or predictions)."""
    if not recipe or not recipe.get("name"):
        raise DataError(
            f"{what} does not record how its vectors were made (imported vectors?); "
            "query it with vectors instead"
        )
    encoder = create_encoder(recipe["name"], **recipe.get("options", {}))
    if EncoderCard.from_dict(card).digest() != encoder.card.digest():
        raise DataError(
            f"encoder {recipe['name']!r} no longer matches the card {what} was built with "
            "(other weights or settings); query it with vectors instead"
        )
    return encoder


def check_query_modality(modality: str, queries: Sequence[Any], what: str) -> None:
    """Image queries are files (paths) or uploaded bytes; text queries are strings that are
    not image files. A query of the other kind is named."""
    for position, query in enumerate(queries):
        if modality == "image" and isinstance(query, str) and not Path(query).is_file():
            raise DataError(
                f"{what} holds image vectors; query {position + 1} ({query[:60]!r}) is not an "
                "image file"
            )
        image_file = isinstance(query, str) and query.lower().endswith(IMAGE_SUFFIXES)
        if modality == "text" and (
            isinstance(query, bytes | bytearray) or (image_file and Path(query).is_file())
        ):
            shown = query[:60] if isinstance(query, str) else "an upload"
            raise DataError(
                f"{what} holds text vectors; query {position + 1} ({shown}) is an image"
            )


def prepare_queries(
    encoder: Any, queries: Sequence[Any], names: Sequence[str] | None = None
) -> list[Any]:
    """Each query decoded and preprocessed; an unreadable one is a `DataError` naming it."""
    prepared = []
    for position, query in enumerate(queries):
        try:
            prepared.append(encoder.prepare(query))
        except ItemError as error:
            name = names[position] if names else f"query {position + 1}"
            raise DataError(f"{name}: {error}") from error
    return prepared


def encode_prepared(encoder: Any, prepared: Sequence[Any], batch: int = 64) -> np.ndarray:
    """(n, d) vectors of prepared items, `batch` at a time."""
    outputs = [np.empty((0, encoder.card.output_dim), np.float32)]
    for start in range(0, len(prepared), batch):
        outputs.append(encoder.encode_batch(prepared[start : start + batch]))
    return np.concatenate(outputs)


def encode_queries(
    encoder: Any, queries: Sequence[Any], names: Sequence[str] | None = None, batch: int = 64
) -> np.ndarray:
    """(n, d) vectors of `queries`; an unreadable item is a `DataError` naming it."""
    return encode_prepared(encoder, prepare_queries(encoder, queries, names), batch)
