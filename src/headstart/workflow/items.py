"""What a store's rows looked like before encoding: small thumbnails (images) or snippets
(texts), found by reloading the dataset its manifest names and matching ids. Pages that show
suspects use them; a source that moved or a store of imported vectors gives none, and says so."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from headstart.datasets import DATASETS, Dataset, load_dataset
from headstart.exceptions import DataError, HeadstartError
from headstart.store import Store

THUMBNAIL = 72  # pixels, longest side
SNIPPET = 240  # characters


def _thumbnail(item) -> str:
    image = Image.open(item) if isinstance(item, (str, Path)) else Image.fromarray(item)
    image = image.convert("RGB")
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def reload_source(store: Store) -> Dataset:
    """The dataset a store was embedded from, loaded again from its manifest's record (its
    registered name, else its source path; the item limit is not reapplied: ids match)."""
    record = store.manifest.dataset
    options = {
        k: v for k, v in record.get("options", {}).items() if k not in ("limit", "limit_seed")
    }
    name = record.get("name", "")
    return load_dataset(name if name in DATASETS.names() else record.get("source", ""), **options)


def reload_for(store: Store, what: str) -> Dataset:
    """`reload_source`, or an error saying that `what` needs the store's source images and
    why they could not be reloaded."""
    try:
        return reload_source(store)
    except (HeadstartError, OSError, TypeError) as error:
        raise DataError(
            f"{what} need the source images of {store.root}, which could not be reloaded from "
            f"{store.manifest.dataset.get('source')!r} ({error})"
        ) from error


def source_previews(store: Store, rows: list[int]) -> tuple[dict[int, str], str]:
    """({row: data-URI thumbnail or text snippet}, a note when the source cannot be read)."""
    record = store.manifest.dataset
    if record.get("modality") == "vector":
        return {}, "imported vectors: the store holds no images or texts to show"
    try:
        dataset = reload_source(store)
    except (HeadstartError, OSError, TypeError) as error:
        return {}, f"the source {record.get('source')!r} could not be reloaded ({error})"
    where = {item_id: i for i, item_id in enumerate(dataset.ids)}
    previews: dict[int, str] = {}
    for row in rows:
        position = where.get(store.ids[row])
        if position is None:
            continue
        item = dataset.items[position]
        try:
            if dataset.modality == "text":
                text = " ".join(str(item).split())
                previews[row] = text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
            else:
                previews[row] = _thumbnail(
                    np.asarray(item) if not isinstance(item, (str, Path)) else item
                )
        except OSError:
            continue
    missing = len(rows) - len(previews)
    return previews, (f"{missing} items not found in the source" if missing else "")


def image_statistics(store: Store) -> dict[str, np.ndarray]:
    """Per-item brightness (mean grey level, 0–255) and contrast (its standard deviation) of
    an image store's source images, in the store's row order — attributes for feature bias."""
    record = store.manifest.dataset
    if record.get("modality") != "image":
        raise HeadstartError(f"{store.root} is not an image store: no image statistics")
    dataset = reload_for(store, "image statistics")
    where = {item_id: i for i, item_id in enumerate(dataset.ids)}
    out = np.full((len(store), 2), np.nan)
    for row, item_id in enumerate(store.ids):
        if item_id not in where:
            raise HeadstartError(f"item {item_id!r} of {store.root} is not in its source any more")
        item = dataset.items[where[item_id]]
        image = (
            Image.open(item) if isinstance(item, (str, Path)) else Image.fromarray(np.asarray(item))
        )
        grey = np.asarray(image.convert("L"), dtype=np.float64)
        out[row] = grey.mean(), grey.std()
    return {"brightness": out[:, 0], "contrast": out[:, 1]}
