"""Embedding a dataset into a store (a cached store is reused): the verb `embed` and where
stores go when no folder is given."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from headstart.datasets import Dataset, load_dataset
from headstart.datasets.image_decoding import ItemError
from headstart.embedding import EmbedResult, store_key, view_recipe
from headstart.encoders import create_encoder
from headstart.output import cache_root
from headstart.scale import ENGINES
from headstart.workflow.splits import split_rows


def prepare_dataset(name: str, limit: int | None = None, seed: int = 0, **options: Any) -> Dataset:
    """Load a dataset and optionally keep a class-balanced `limit` items per split."""
    dataset = load_dataset(name, **options)
    return dataset.take(limit, seed) if limit else dataset


def embed(
    dataset: str | Dataset,
    encoder: str = "efficientnet-lite0",
    out: str | Path | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    dataset_options: dict | None = None,
    encoder_options: dict | None = None,
    batch_size: int | None = None,
    shard_size: int = 1024,
    num_workers: int | None = None,
    num_threads: int | None = None,
    decode: str = "threads",
    overwrite: bool = False,
    progress: bool = True,
    views: int = 1,
    views_seed: int = 0,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> EmbedResult:
    """Embed a dataset (name, path or `Dataset`) into a store; a cached store is reused.
    `views` > 1 also stores that many views (plain + augmented) of every non-test image.
    `engine` "ray" embeds with Ray Data (`engine_options`: address, num_cpus, concurrency,
    num_gpus, batch_size) into the same store, key and format."""
    recipe = view_recipe(views, views_seed)
    options = dict(engine_options or {})
    if engine == "local":  # the local engine's options are this function's own parameters
        options |= {"num_workers": num_workers, "num_threads": num_threads, "decode": decode}
    if batch_size is not None:
        options["batch_size"] = batch_size
    runner = ENGINES.create(engine, **options)
    data = (
        dataset
        if isinstance(dataset, Dataset)
        else prepare_dataset(dataset, limit, seed, **(dataset_options or {}))
    )
    model = create_encoder(encoder, **(encoder_options or {}))
    if getattr(model, "needs_fit", False):
        fit_on_training_side(model, data)
    if out is None:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{data.name}-{model.name}")
        out = cache_root() / "stores" / f"{safe}-{store_key(data, model, recipe)[:12]}"
    common = {"shard_size": shard_size, "overwrite": overwrite, "progress": progress}
    return runner.embed(data, model, out, views=recipe, **common)


def fit_on_training_side(model: Any, data: Dataset) -> None:
    """Fit an encoder that learns from the data it embeds (`tfidf`) on the split rule's
    training rows and unlabelled pool — never a test row; unusable items are left out, as
    embedding skips them."""
    rows = split_rows(data.labels, data.split, f"dataset {data.name}", data.class_names, 0)
    texts = []
    for row in rows.learning():
        try:
            texts.append(model.prepare(data.items[row]))
        except ItemError:
            continue
    model.fit(texts, f"dataset {data.name!r} ({rows.rule}, training side)")
