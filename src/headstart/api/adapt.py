"""The adaptation verbs: train an adapter on a store, map a store through one. Re-exported by
`headstart.api`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.adapt.losses import LOSSES
from headstart.adapt.saved import save_adapter, transform_store
from headstart.adapt.sentence_tuning import TuneSettings, steps_per_epoch, tune_sentence_body
from headstart.adapt.train import AdaptSettings, check_settings, fit_adapter
from headstart.datasets import Dataset, load_dataset
from headstart.encoders import create_encoder
from headstart.encoders.sentence import SentenceEncoder
from headstart.encoders.tuned_sentence import save_tuned
from headstart.exceptions import DataError
from headstart.output import check_before_work, check_writable
from headstart.progress import progress_bar
from headstart.protocol import Results
from headstart.protocol.sampling import k_shot_indices
from headstart.store import Store
from headstart.workflow.items import reload_source
from headstart.workflow.run import run_protocol
from headstart.workflow.splits import split_rows, store_rows

__all__ = [
    "LOSSES",
    "AdaptSettings",
    "TuneSettings",
    "adapt",
    "adapt_settings",
    "evaluate_adapted",
    "transform",
    "tune_encoder",
]


def adapt_settings(loss: str, options: dict[str, Any]) -> AdaptSettings:
    """Settings from a loss name and `key=value` options, unknown keys named."""
    known = set(AdaptSettings.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise DataError(f"unknown adapt option {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return AdaptSettings(loss=loss, **options)


def adapt(
    store: str | Path,
    out: str | Path,
    settings: AdaptSettings | None = None,
    progress: bool = True,
    background: str | Path | None = None,
) -> dict[str, Any]:
    """Train an adapter on the store's training rows (its augmented views when it has them)
    and save it to `out` (JSON + safetensors); the history of the run is returned. Losses
    that contrast the store with a `background` store (SepCLR) read that one's training rows
    too."""
    settings = settings or AdaptSettings()
    out = check_before_work(out, "adapters")
    source = Store(store)
    X, labels, views = _training_part(source)
    back, back_views = None, None
    if background is not None:
        other = Store(background)
        back, _, back_views = _training_part(other)
    check_settings(settings, X, labels, views, back, back_views)  # before the progress bar
    if background is not None and other.card.digest() != source.card.digest():
        raise DataError(
            f"background store {background} was embedded by {other.card.name}, "
            f"the store by {source.card.name}; both need the same encoder"
        )
    with progress_bar(progress) as bar:
        task = bar.add_task("adapt", total=settings.epochs)
        adapter, history = fit_adapter(
            X,
            labels,
            settings,
            views,
            progress=lambda n: bar.advance(task, n),
            background=back,
            background_views=back_views,
        )
    save_adapter(out, adapter, settings, X.shape[1], source, history)
    return history


def _training_part(store: Store) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Vectors, labels (None when there are none) and views of the rows an adapter may learn
    from: the split rule's training rows and unlabelled pool (never a test row)."""
    rows = store_rows(store, classes=0).learning()
    X = store.vectors()
    labels = store.labels[rows] if (store.labels[rows] >= 0).any() else None
    views = store.views(rows, X) if store.n_views > 1 else None
    return X[rows], labels, views


def evaluate_adapted(
    store: str | Path,
    settings: AdaptSettings,
    heads: Sequence[str],
    shots: Sequence[int | str] = (1, 5, 16),
    seeds: int = 10,
    base_fraction: float = 0.5,
    out: str | Path | None = None,
    progress: bool = True,
    unlabelled: bool = False,
) -> Results:
    """The base → novel protocol: per seed an adapter trained on a `base_fraction` of the
    classes (or, `unlabelled`, on every training row without labels), k-shot heads on the
    other classes with frozen and adapted features (paired)."""
    options = {k: v for k, v in settings.__dict__.items() if k != "loss"}
    return run_protocol(
        "base-novel",
        store,
        out,
        progress,
        loss=settings.loss,
        adapt_options=options,
        heads=list(heads),
        shots=list(shots),
        seeds=seeds,
        base_fraction=base_fraction,
        unlabelled=unlabelled,
    )


def transform(store: str | Path, adapter: str | Path, out: str | Path) -> Store:
    """A new store of the vectors of `store` mapped through the saved `adapter`."""
    return transform_store(store, adapter, check_writable(out, "store folder"))


def _texts_of(source: str) -> Dataset:
    """A dataset by name or path, or the dataset a store folder was embedded from."""
    if not (Path(source) / "manifest.json").is_file():
        return load_dataset(source)
    store = Store(source)
    if store.manifest.dataset.get("modality") == "vector":
        raise DataError(f"store {source} holds imported vectors; fine-tuning needs its texts")
    return reload_source(store)


def _tuning_rows(source: str, data: Dataset) -> np.ndarray:
    """The dataset rows fine-tuning reads: the split rule's training rows — of the store when
    `source` is one (only the items it holds), else of the dataset."""
    if not (Path(source) / "manifest.json").is_file():
        return split_rows(data.labels, data.split, f"dataset {source}", data.class_names).train
    store = Store(source)
    position = {item: i for i, item in enumerate(data.ids)}
    return np.array([position[store.ids[r]] for r in store_rows(store).train], dtype=np.int64)


def tune_encoder(
    dataset: str,
    out: str | Path,
    encoder: str = "minilm",
    shots: int | None = None,
    settings: TuneSettings | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """SetFit-style fine-tuning of a sentence encoder's body on the labelled training items of
    a text dataset (or of the dataset a store was embedded from), `shots` per class (seeded)
    when given; saved to `out` as an encoder of its own (`tuned:<out>`). Test items are never
    read."""
    settings = settings or TuneSettings()
    out = check_before_work(out, "tuned encoders")
    data = _texts_of(dataset)
    if data.modality != "text":
        raise DataError(
            f"fine-tuning an encoder body needs texts; {dataset} holds {data.modality}s"
        )
    rows = _tuning_rows(dataset, data)
    if shots is not None:
        rows = rows[k_shot_indices(data.labels[rows], shots, settings.seed, policy="up-to")]
    model = create_encoder(encoder, device=settings.device)
    if not isinstance(model, SentenceEncoder):
        raise DataError(f"encoder {encoder!r} is not a sentence-transformers text encoder")
    texts = [str(data.items[i]) for i in rows]
    with progress_bar(progress) as bar:
        steps = settings.epochs * steps_per_epoch(len(rows), settings)
        task = bar.add_task("fine-tune", total=steps)
        history = tune_sentence_body(
            model.model, texts, data.labels[rows], settings, lambda n: bar.advance(task, n)
        )
    save_tuned(out, model, settings, history, [data.ids[i] for i in rows])
    return history
