"""A trained adapter on disk: `adapter.json` (registry name, options, input width, the
settings it was trained with, the training store's key and encoder card, its history) and
`weights.safetensors`, whose sha256 the JSON records — never pickle. Applying it to a store
checks the width and the encoder card, and writes a new store whose card names the adapter."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from headstart.adapt.adapter import create_adapter
from headstart.adapt.train import AdaptSettings
from headstart.cards import EncoderCard, file_sha256
from headstart.exceptions import DataError, StoreError
from headstart.json_files import read_sealed_json, write_sealed_json
from headstart.output import new_folder
from headstart.store import Store
from headstart.store.derive import derive_store

META, WEIGHTS = "adapter.json", "weights.safetensors"


def save_adapter(
    folder: str | Path,
    adapter: torch.nn.Module,
    settings: AdaptSettings,
    d_in: int,
    store: Store,
    history: dict[str, Any],
) -> Path:
    """Write the adapter atomically, so an interrupted run leaves no half-written adapter."""
    with new_folder(folder, "adapters") as temporary:
        state = {k: v.detach().cpu().contiguous() for k, v in adapter.state_dict().items()}
        save_file(state, str(temporary / WEIGHTS))
        meta = {
            "format": "headstart-adapter/1",
            "settings": asdict(settings),
            "d_in": d_in,
            "store_key": store.key,
            "encoder_card": store.card.to_dict(),
            "history": history,
            "weights_sha256": file_sha256(temporary / WEIGHTS),
        }
        write_sealed_json(temporary / META, meta)
    return Path(folder)


def load_adapter(folder: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The adapter module (eval mode) and its metadata, weights checked against the sha256."""
    folder = Path(folder)
    meta = read_sealed_json(folder / META, f"{folder} is not a saved adapter (no {META})")
    if file_sha256(folder / WEIGHTS) != meta.get("weights_sha256"):
        raise StoreError(f"{folder / WEIGHTS}: checksum mismatch (weights changed or swapped)")
    settings = AdaptSettings(**meta["settings"])
    adapter = create_adapter(settings.adapter, meta["d_in"], **settings.adapter_options)
    adapter.load_state_dict(load_file(str(folder / WEIGHTS)))
    return adapter.eval(), meta


def transform_store(
    store_path: str | Path, adapter_folder: str | Path, out: str | Path, batch: int = 4096
) -> Store:
    """Map every vector of a store through a saved adapter into a new store; refused for a
    store of another width or another encoder card than the adapter was trained on."""
    store = Store(store_path)
    adapter, meta = load_adapter(adapter_folder)
    if store.dim != meta["d_in"]:
        raise DataError(
            f"the adapter takes {meta['d_in']}-d vectors; {store.root} holds {store.dim}-d ones"
        )
    trained_on = EncoderCard.from_dict(meta["encoder_card"])
    if trained_on.digest() != store.card.digest():
        raise DataError(
            f"the adapter was trained on features of {trained_on.name!r}; {store.root} was "
            f"embedded by {store.card.name!r} with another card"
        )
    X = store.vectors()
    with torch.no_grad():
        mapped = np.concatenate(
            [adapter(torch.as_tensor(X[s : s + batch])).numpy() for s in range(0, len(X), batch)]
        )
    adapter_sha = meta["weights_sha256"]
    card = replace(
        store.card,
        name=f"{store.card.name}+adapter:{adapter_sha[:12]}",
        output_dim=mapped.shape[1],
        extra={
            **store.card.extra,
            "adapter_sha256": adapter_sha,
            "adapter": meta["settings"]["adapter"],
            "adapter_loss": meta["settings"]["loss"],
            "base_card_sha256": store.card.digest(),
        },
    )
    rows = np.arange(len(store))
    change = {"transform": "adapter", "adapter_sha256": adapter_sha}
    return derive_store(store, out, rows, store.labels, change, vectors=mapped, card=card)
