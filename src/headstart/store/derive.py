"""A store derived from another by changing labels or dropping rows (the audit's `--fix`), or
by mapping its vectors through an adapter (`store transform`): written to a new folder with its
own key, the source never touched. Unless a new card is given the encoder card and recipe
carry over, so models fitted on either store accept the other's features; the dataset record
names the source store's key and what changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from headstart.cards import EncoderCard
from headstart.exceptions import DataError
from headstart.output import check_new_folder, new_folder
from headstart.store.import_vectors import vectors_fingerprint
from headstart.store.manifest import cache_key
from headstart.store.store import Store
from headstart.store.writer import StoreWriter


def derive_store(
    source: Store,
    out: str | Path,
    keep: np.ndarray,
    labels: np.ndarray,
    change: dict,
    vectors: np.ndarray | None = None,
    card: EncoderCard | None = None,
) -> Store:
    """Write rows `keep` of `source` with labels `labels` (one per kept row) to `out`, a
    folder that must not exist yet; `change` is recorded in the new dataset record.
    `vectors` (one row per kept row) and `card` replace the source's features and card."""
    out = Path(out)
    check_new_folder(out, "derived stores")  # before any work; checked again under the lock
    keep = np.asarray(keep, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(keep):
        raise DataError(f"{len(labels)} labels for {len(keep)} kept rows")
    matrix = source.vectors()[keep] if vectors is None else np.asarray(vectors, np.float32)
    if len(matrix) != len(keep):
        raise DataError(f"{len(matrix)} vectors for {len(keep)} kept rows")
    ids = [source.ids[i] for i in keep]
    split, groups = source.split[keep], source.groups[keep]
    fingerprint = vectors_fingerprint(matrix, ids, labels, split, groups)
    recipe = source.manifest.recipe if card is None else {}  # a new card: no rebuild recipe
    card = card or source.card
    dataset = {
        **source.manifest.dataset,
        "n_items": len(keep),
        "fingerprint": fingerprint,
        "derived_from": {"key": source.key, **change},
    }
    dataset.pop("splits", None)
    manifest = replace(
        source.manifest,
        key=cache_key(card.digest(), fingerprint),
        encoder=card.to_dict(),
        dim=matrix.shape[1],
        recipe=recipe,
        dataset=dataset,
        n_items=len(keep),
        shards=[],
        complete=False,
        created=datetime.now(UTC).isoformat(),
        views={},
    )
    with new_folder(out, "derived stores") as temporary:
        StoreWriter.start(temporary, manifest).write_arrays(matrix, ids, labels, split, groups)
    return Store(out)
