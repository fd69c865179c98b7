"""The adaptation verbs: train an adapter on a store, map a store through one. Re-exported by
`headstart.api`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from headstart.adapt.losses import LOSSES
from headstart.adapt.saved import save_adapter, transform_store
from headstart.adapt.train import AdaptSettings, check_settings, fit_adapter
from headstart.exceptions import DataError
from headstart.output import check_writable
from headstart.progress import progress_bar
from headstart.store import Store

__all__ = ["LOSSES", "AdaptSettings", "adapt", "transform"]


def adapt(
    store: str | Path,
    out: str | Path,
    settings: AdaptSettings | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train an adapter on the store's training rows (its augmented views when it has them)
    and save it to `out` (JSON + safetensors); the history of the run is returned."""
    settings = settings or AdaptSettings()
    out = check_writable(out, "adapter folder")
    if out.exists():
        raise DataError(f"{out} exists already; adapters are written to a new folder")
    source = Store(store)
    rows = np.flatnonzero(np.asarray(source.split).astype(str) != "test")
    X = source.vectors()
    labels = source.labels[rows] if (source.labels[rows] >= 0).any() else None
    views = source.views(rows, X) if source.n_views > 1 else None
    check_settings(settings, X[rows], labels, views)  # refuse before the progress bar starts
    with progress_bar(progress) as bar:
        task = bar.add_task("adapt", total=settings.epochs)
        adapter, history = fit_adapter(
            X[rows], labels, settings, views, progress=lambda n: bar.advance(task, n)
        )
    save_adapter(out, adapter, settings, X.shape[1], source, history)
    return history


def transform(store: str | Path, adapter: str | Path, out: str | Path) -> Store:
    """A new store of the vectors of `store` mapped through the saved `adapter`."""
    return transform_store(store, adapter, check_writable(out, "store folder"))
