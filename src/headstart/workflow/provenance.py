"""The one provenance builder: what every result records of where it came from, whichever
protocol produced it — the encoder card, the store's key and fingerprint, the split rule,
transforms, views, corruption, seeds, the protocol's settings and the versions."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path
from typing import Any

import numpy as np

from headstart.mil import Bags
from headstart.protocol.base import Protocol, Settings
from headstart.protocol.results import versions
from headstart.store import Store

COMMON = (
    "protocol",
    "main_metric",
    "settings",
    "dataset",
    "encoder",
    "encoder_card",
    "store",
    "store_path",
    "store_key",
    "store_fingerprint",
    "split",
    "transforms",
    "views",
    "corruption",
    "seeds",
    "class_names",
    "versions",
    "python",
)


def build_provenance(
    protocol: Protocol,
    settings: Settings,
    source: Store | Bags,
    split: str | None = None,
    label: str = "",
) -> dict[str, Any]:
    """Every field of `COMMON` for one protocol run on a store (or a bag set); fields that do
    not apply are None (a bag set has no encoder card, an imported store no recipe)."""
    values = settings.as_dict()
    for setting in protocol.side_stores:  # other stores, by where they are
        if values.get(setting):
            values[setting] = str(Path(values[setting]).resolve())
    record: dict[str, Any] = {
        "protocol": protocol.name,
        "main_metric": protocol.main_metric,
        "settings": values,
        "transforms": values.get("transforms", []),
        "corruption": settings.corruption(),
        "seeds": _seeds(values),
        "versions": versions(),
        "python": platform.python_version(),
        "split": split,
        "store": label,
    }
    if isinstance(source, Store):
        record.update(
            dataset=str(source.manifest.dataset.get("name")),
            encoder=source.card.name,
            encoder_card=source.card.to_dict(),
            store_path=str(Path(source.root).resolve()),
            store_key=source.key,
            store_fingerprint=source.manifest.dataset.get("fingerprint"),
            views=1,  # views a protocol used: the few-shot grid records its own
            class_names=source.class_names,
        )
    else:
        record.update(
            dataset=source.name,
            encoder=None,
            encoder_card=None,
            store_path=None,
            store_key=None,
            store_fingerprint=bags_fingerprint(source),
            views=1,
            class_names=list(source.class_names),
        )
    return record


def _seeds(values: dict[str, Any]) -> Any:
    """How many seeds (or draws, or folds × repeats) the settings ask for."""
    if "seeds" in values:
        return values["seeds"]
    if "folds" in values:
        return values["folds"] * values["repeats"]
    return values.get("repeats")


def bags_fingerprint(bags: Bags) -> str:
    """sha256 of a bag set's instances, offsets and labels (its content, not its name)."""
    digest = hashlib.sha256()
    for array in (bags.instances, bags.offsets, bags.labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def stamp(results_provenance: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """The common fields under what the protocol itself recorded: a protocol's own value of a
    field (its store label with a corruption, the novel classes' names) is kept; the protocol
    and its settings are the builder's (an engine run inside another protocol says less)."""
    own = {k: v for k, v in results_provenance.items() if v is not None}
    kept = ("protocol", "settings", "main_metric")
    return {**common, **own, **{k: common[k] for k in kept}}
