"""Class texts (names, prompt templates, descriptions) embedded by a store's own encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from headstart.encoders import create_encoder
from headstart.exceptions import DataError
from headstart.heads import create_head
from headstart.prompts import (
    ClassTexts,
    class_embeddings,
    description_embeddings,
    differential_embeddings,
    read_descriptions,
    read_differential_descriptions,
)
from headstart.store import Store


def store_encoder(store: Store) -> Any:
    """The encoder that made `store`, rebuilt from its recorded recipe."""
    recipe = store.manifest.recipe
    if not recipe:
        raise DataError(
            f"store {store.root} does not record its encoder recipe, so class texts cannot be "
            "embedded in its space; re-embed it with headstart embed"
        )
    return create_encoder(recipe["name"], **recipe.get("options", {}))


def class_text_embeddings(store: Store, texts: ClassTexts, encoder: Any = None) -> np.ndarray:
    """(K, d) class embeddings in the store's space (its encoder must embed texts)."""
    names = _class_names(store, texts)
    encoder = encoder or store_encoder(store)
    if texts.descriptions:
        return description_embeddings(encoder, names, read_descriptions(texts.descriptions))
    return class_embeddings(encoder, names, texts.templates)


def _class_names(store: Store, texts: ClassTexts) -> list[str]:
    names = list(texts.names or store.class_names)
    if len(names) != len(store.class_names):
        raise DataError(
            f"{len(names)} class names given for the store's {len(store.class_names)} classes"
        )
    return names


def with_class_texts(
    store: Store,
    heads: Sequence[str],
    head_params: dict[str, dict[str, Any]] | None,
    texts: ClassTexts,
) -> dict[str, dict[str, Any]]:
    """Parameters per head, with what the text-conditioned heads take filled in: class
    embeddings (descriptions: kept unnormalised, the mean cosine over descriptors) and, for
    FuDD, the pairwise differential descriptions — all embedded by the store's encoder."""
    params = {h: dict((head_params or {}).get(h, {})) for h in heads}
    accepted = {h: create_head(h).get_params() for h in heads}
    encoder = store_encoder(store)
    embeddings = class_text_embeddings(store, texts, encoder)
    pairs = None
    if texts.differential:
        pairs = differential_embeddings(
            encoder, _class_names(store, texts), read_differential_descriptions(texts.differential)
        )
    for head in heads:
        if "class_embeddings" in accepted[head]:
            params[head].setdefault("class_embeddings", embeddings)
        if "class_names" in accepted[head]:  # prompts learned around each class's words
            params[head].setdefault("class_names", _class_names(store, texts))
        if texts.descriptions and "normalize_text" in accepted[head]:
            params[head].setdefault("normalize_text", False)
        if pairs is not None and "differential" in accepted[head]:
            params[head].update(
                differential=pairs[0], differential_classes=pairs[1], differential_against=pairs[2]
            )
    return params
