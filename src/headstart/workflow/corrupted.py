"""Corrupted test sets and baseline stores for the corruptions protocol.

A corrupted store holds a store's test rows under one corruption at one severity, embedded by
the encoder that made the store (rebuilt from its recipe, checked against its card): a derived
store with its own key, cached under the cache root, resumable like any embedding. Training
rows are never corrupted. A baseline store (for mCE) is the same rows embedded by another
encoder, rows in the same order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from headstart.datasets import Dataset, ItemError
from headstart.datasets.corrupted import CorruptionRecipe, corrupted_dataset
from headstart.embedding import EmbedResult, embed_dataset, store_key
from headstart.encoders import Encoder, create_encoder
from headstart.exceptions import DataError, HeadstartError
from headstart.output import cache_root
from headstart.store import Store
from headstart.workflow.items import reload_for


def rebuild_encoder(store: Store, what: str) -> Encoder:
    """The encoder that made `store`, from its recipe; its card must equal the store's."""
    recipe = store.manifest.recipe or {}
    if store.manifest.dataset.get("modality") != "image":
        raise DataError(
            f"{what} apply to images; {store.root} holds "
            f"{store.manifest.dataset.get('modality')} rows"
        )
    if not recipe.get("name"):
        raise DataError(
            f"{what} need the encoder that made {store.root}, and its manifest names none "
            "(imported or adapted vectors): embed the images with a registered encoder"
        )
    encoder = create_encoder(recipe["name"], **recipe.get("options", {}))
    if encoder.card.digest() != store.card.digest():
        raise DataError(
            f"encoder {recipe['name']!r} today has another card than the one that made "
            f"{store.root} (weights or preprocessing changed); embed the store again"
        )
    return encoder


def source_positions(store: Store, rows: Sequence[int], what: str) -> tuple[Dataset, np.ndarray]:
    """The store's source dataset, and the positions in it of the store's `rows`."""
    source = reload_for(store, what)
    where = {item_id: i for i, item_id in enumerate(source.ids)}
    missing = [store.ids[r] for r in rows if store.ids[r] not in where]
    if missing:
        raise DataError(
            f"{len(missing)} items of {store.root} are not in its source any more, "
            f"e.g. {missing[0]!r}"
        )
    return source, np.array([where[store.ids[r]] for r in rows], dtype=np.int64)


SHARED_RENDER_LIMIT = 2000  # items rendered once in memory for several encoders


def _store_path(data: Dataset, encoder: Encoder, kind: str, label: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{data.name}-{encoder.name}-{label}")
    return Path(cache_root()) / "stores" / kind / f"{safe}-{store_key(data, encoder)[:12]}"


def _embed_cached(data: Dataset, encoder: Encoder, kind: str, label: str) -> EmbedResult:
    return embed_dataset(data, encoder, _store_path(data, encoder, kind, label), progress=False)


def _rendered(data: Dataset) -> Dataset:
    """`data` with its corrupted images rendered once, in memory, by a thread per core (same
    record and fingerprint, so the same store key); `data` itself when an item cannot be
    rendered (the lazy path then records it as a failure) or the set is large."""
    if len(data) > SHARED_RENDER_LIMIT:
        return data
    try:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            images = list(pool.map(lambda item: item.render(), data.items))
    except ItemError:
        return data
    if len({image.shape for image in images}) > 1:
        return data  # images of their own sizes: rendered again per encoder
    rendered = replace(data, items=np.stack(images))
    rendered.__dict__["fingerprint"] = data.fingerprint  # the recipe's key, not the pixels'
    return rendered


def _aligned(store: Store, ids: list[str], where: str) -> np.ndarray:
    """`store`'s vectors in the order of `ids`; an item the encoder skipped is an error."""
    index = {item_id: i for i, item_id in enumerate(store.ids)}
    lost = [i for i in ids if i not in index]
    if lost:
        reason = next((f["reason"] for f in store.failures if f.get("id") == lost[0]), "")
        raise DataError(
            f"{where}: {len(lost)} items could not be embedded, e.g. {lost[0]!r} "
            f"({reason or 'see the store failures'})"
        )
    return store.vectors()[[index[i] for i in ids]]


def corrupted_tests(
    store: Store,
    test_rows: np.ndarray,
    recipes: Sequence[CorruptionRecipe],
    encoders: Sequence[Encoder] = (),
    advance: Callable[[int], None] | None = None,
) -> list[dict[str, np.ndarray]]:
    """For each encoder (default: the store's own), {"corruption/severity": the test rows'
    vectors under it}, rows as `test_rows`. Each corrupted image is made once for all the
    encoders that still need it."""
    encoders = list(encoders) or [rebuild_encoder(store, "corruptions")]
    source, positions = source_positions(store, test_rows, "corruptions")
    ids = [store.ids[r] for r in test_rows]
    out: list[dict[str, np.ndarray]] = [{} for _ in encoders]
    for recipe in recipes:
        data = corrupted_dataset(source, positions, recipe)
        label = recipe.label()
        done = [_is_complete(_store_path(data, e, "corrupted", label)) for e in encoders]
        if not all(done):
            data = _rendered(data)
        for vectors, encoder in zip(out, encoders, strict=True):
            corrupted = _embed_cached(data, encoder, "corrupted", label).store
            vectors[label] = _aligned(corrupted, ids, f"{label} of {store.root}")
            if advance:
                advance(1)
    return out


def _is_complete(folder: Path) -> bool:
    try:
        return Store(folder).manifest.complete
    except (HeadstartError, OSError):
        return False


def baseline_store(store: Store, encoder_name: str) -> Store:
    """`store`'s rows embedded by encoder `encoder_name`, in the store's row order (cached)."""
    rebuild_encoder(store, "a baseline encoder")  # the same checks: images, a known source
    source, positions = source_positions(store, range(len(store)), "a baseline encoder")
    encoder = create_encoder(encoder_name)
    if encoder.card.modality != "image":
        raise DataError(f"baseline encoder {encoder_name!r} takes {encoder.card.modality} items")
    baseline = _embed_cached(source.subset(positions), encoder, "baseline", "rows").store
    if list(baseline.ids) != list(store.ids):
        lost = sorted(set(store.ids) - set(baseline.ids))
        raise DataError(
            f"baseline encoder {encoder_name!r} could not embed {len(lost)} items of "
            f"{store.root}, e.g. {lost[:1]}; see {baseline.root}"
        )
    return baseline
