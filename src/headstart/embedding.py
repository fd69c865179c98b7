"""Embedding a dataset into a store: parallel decoding, batched inference, resumable shards.

Items are prepared (decoded, resized) in worker threads one batch ahead of the model; unusable
items are skipped and recorded with their reason. Each shard is written atomically as soon as
it is finished, so an interrupted run resumes where it stopped and loses nothing it wrote.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from headstart import __version__
from headstart.datasets import Dataset, ItemError
from headstart.encoders import Encoder
from headstart.encoders.preprocess import ImagePreprocessor
from headstart.encoders.views import ImageViews, ViewRecipe
from headstart.exceptions import DataError
from headstart.progress import progress_bar
from headstart.store import (
    Manifest,
    Store,
    StoreWriter,
    cache_key,
    describe_failure,
    shard_table,
    views_table,
)

DEFAULT_SHARD_SIZE = 1024
PREFETCH_BATCHES = 2  # batches being decoded while the model runs
FLUSH_SECONDS = 30.0  # a shard's finished items are written at least this often
DECODERS: dict[str, Callable[[int], Executor]] = {
    "threads": ThreadPoolExecutor,
    "processes": lambda n: ProcessPoolExecutor(n, mp_context=get_context("spawn")),
}


@dataclass(frozen=True)
class EmbedResult:
    """What an embed run did: where the store is and how much work it took."""

    store: Store
    cache_hit: bool
    embedded: int  # items encoded by this run (0 on a cache hit)
    skipped: int  # items in the store's failures list
    seconds: float

    def summary(self) -> str:
        """One line for the terminal."""
        info = self.store.info()
        if self.cache_hit:
            head = f"cache hit: {info['rows']:,} vectors already in {info['path']}"
        else:
            rate = self.embedded / self.seconds if self.seconds > 0 else 0.0
            head = (
                f"embedded {self.embedded:,} items in {self.seconds:.1f}s "
                f"({rate:,.1f} items/s) into {info['path']}"
            )
        tail = (
            f"; {self.skipped} skipped, see {info['failures_file']}"
            if self.skipped
            else "; 0 skipped"
        )
        return f"{head} [{info['encoder']}, {info['dim']}-d, {info['rows']:,} rows]{tail}"


def default_batch_size(device: str) -> int:
    """Small batches keep activations in cache on CPU; GPUs want large ones."""
    return 4 if str(device).startswith("cpu") else 256


def store_key(dataset: Dataset, encoder: Encoder, views: ViewRecipe | None = None) -> str:
    """The cache key of embedding `dataset` with `encoder` (and augmented `views`)."""
    return cache_key(encoder.card.digest(), dataset.fingerprint, views.to_dict() if views else None)


def view_recipe(views: int, seed: int = 0) -> ViewRecipe | None:
    """The recipe for `views` views per item (None for 1: no augmented views)."""
    if views < 1:
        raise DataError(f"views must be at least 1 (1 = no augmented views), got {views}")
    return ViewRecipe(views, seed=seed) if views > 1 else None


def view_maker(dataset: Dataset, encoder: Encoder, views: ViewRecipe) -> ImageViews:
    """The augmenter for `encoder`'s input, or a clear error where views make no sense."""
    if dataset.modality != "image":
        raise DataError(
            f"--views needs an image dataset; {dataset.name!r} holds {dataset.modality} "
            "items, for which headstart has no augmentation recipe (heads fall back to "
            "held-out folds of the support set)"
        )
    if not isinstance(encoder.preprocessor, ImagePreprocessor):
        raise DataError(
            f"encoder {encoder.name!r} does not use headstart's image preprocessing, so "
            "its inputs cannot be augmented here"
        )
    return ImageViews(encoder.preprocessor.card, views)


def augmented_positions(dataset: Dataset) -> np.ndarray:
    """Which items get views: every item outside the official test split (test items are
    never augmented; without a split any item may be sampled as support)."""
    if dataset.split is None:
        return np.ones(len(dataset), bool)
    return np.asarray([str(s) != "test" for s in dataset.split])


def check_embedding(
    dataset: Dataset, encoder: Encoder, shard_size: int, **counts: int | None
) -> None:
    """What every engine refuses before it starts: items the encoder cannot take, and
    sizes or counts below one."""
    if dataset.modality != encoder.card.modality:
        raise DataError(
            f"dataset {dataset.name!r} holds {dataset.modality} items but encoder "
            f"{encoder.name!r} takes {encoder.card.modality} items"
        )
    if shard_size < 1:
        raise DataError(f"shard_size must be positive, got {shard_size}")
    for name, value in counts.items():
        if value is not None and value < 1:  # a batch of -1 items once wrote an empty store
            raise DataError(f"{name} must be a positive number, got {value}")


def new_manifest(
    dataset: Dataset, encoder: Encoder, shard_size: int, views: ViewRecipe | None = None
) -> Manifest:
    """The manifest a run of any engine starts from (its key: encoder card + dataset)."""
    return Manifest(
        key=store_key(dataset, encoder, views),
        encoder=encoder.card.to_dict(),
        dataset=dataset.describe(),
        dim=encoder.card.output_dim,
        n_items=len(dataset),
        shard_size=shard_size,
        created=datetime.now(UTC).isoformat(),
        versions={"headstart": __version__},
        recipe=encoder.recipe or {},
        views=views.to_dict() if views else {},
    )


def item_table(dataset: Dataset, dim: int, kept: Sequence[int], matrix: np.ndarray) -> Any:
    """The store rows of the dataset items at positions `kept`, with their vectors."""
    index = np.asarray(kept, np.int64)
    return shard_table(
        dim,
        [dataset.ids[i] for i in index],
        index,
        dataset.labels[index],
        None if dataset.split is None else [str(s) for s in dataset.split[index]],
        None if dataset.groups is None else [str(g) for g in dataset.groups[index]],
        matrix,
    )


def embed_dataset(
    dataset: Dataset,
    encoder: Encoder,
    out: str | Path,
    *,
    batch_size: int | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    num_workers: int | None = None,
    num_threads: int | None = None,
    decode: str = "threads",
    overwrite: bool = False,
    progress: bool = True,
    views: ViewRecipe | None = None,
    flush_seconds: float = FLUSH_SECONDS,
) -> EmbedResult:
    """Embed every item of `dataset` into the store at `out` (resuming or reusing it).

    `decode="processes"` prepares items in worker processes: file decoding in Python holds the
    GIL for part of each image, so many-core machines feeding a GPU need processes.
    `views` also stores augmented views of every non-test item (view 0 is the plain row).
    A shard still unfinished after `flush_seconds` of work is written as a part, so a killed
    run loses at most about that much.
    """
    if decode not in DECODERS:
        raise DataError(f"decode must be one of {sorted(DECODERS)}, got {decode!r}")
    check_embedding(dataset, encoder, shard_size, batch_size=batch_size, num_workers=num_workers)
    augment = view_maker(dataset, encoder, views) if views else None
    started = time.perf_counter()
    manifest = new_manifest(dataset, encoder, shard_size, views)
    with StoreWriter.open(out, manifest, overwrite=overwrite) as writer:  # the folder's lock
        if writer.manifest.complete:
            return EmbedResult(Store(out), True, 0, len(writer.manifest.failures), 0.0)
        pending = writer.pending_shards()
        done_items = writer.manifest.n_items - sum(len(writer.remaining_range(i)) for i in pending)
        batch = batch_size or default_batch_size(getattr(encoder, "device", "cpu"))
        workers = num_workers or min(8, os.cpu_count() or 1)
        embedded = 0
        with (
            _torch_threads(num_threads),
            DECODERS[decode](workers) as pool,
            progress_bar(progress) as bar,
        ):
            task = bar.add_task(
                f"embed {dataset.name} with {encoder.name}",
                total=len(dataset),
                completed=done_items,
            )
            for index in pending:
                while positions := writer.remaining_range(index):  # one part per flush
                    table, failures, view_rows, consumed = _embed_shard(
                        dataset,
                        encoder,
                        positions,
                        batch,
                        pool,
                        workers,
                        lambda n: bar.advance(task, n),
                        augment,
                        time.perf_counter() + flush_seconds,
                    )
                    writer.write_shard(index, table, failures, view_rows, n_items=consumed)
                    embedded += table.num_rows
        final = writer.finish()
    return EmbedResult(
        Store(out), False, embedded, len(final.failures), time.perf_counter() - started
    )


def _embed_shard(
    dataset: Dataset,
    encoder: Encoder,
    positions: range,
    batch_size: int,
    pool: Executor,
    workers: int,
    advance: Any,
    augment: ImageViews | None = None,
    deadline: float = float("inf"),
) -> tuple[Any, list[dict[str, str]], Any, int]:
    """Encode the items at `positions` — stopping after the batch that passes `deadline`
    (a `perf_counter` time) — and return the table, the skipped items, with `augment` the
    table of the augmented items' extra views, and how many positions were consumed."""
    kept: list[int] = []
    vectors: list[np.ndarray] = []
    failures: list[dict[str, str]] = []
    extra: list[tuple[int, np.ndarray]] = []  # (item, its views 1..n−1)
    consumed = 0
    batches = [positions[i : i + batch_size] for i in range(0, len(positions), batch_size)]
    for span, results in _prepared(dataset, encoder, batches, pool, workers, augment):
        if consumed and time.perf_counter() > deadline:
            break  # flush what is done; the batches prepared ahead are redone in the next part
        consumed += len(span)
        good = []
        for position, (prepared, reason) in zip(span, results, strict=True):
            if reason is None:
                good.append((position, prepared))
            else:
                failures.append(
                    describe_failure(
                        dataset.ids[position],
                        position,
                        dataset.items[position] if dataset.modality == "image" else None,
                        reason,
                    )
                )
        if good and augment is None:
            vectors.append(encoder.encode_batch([p for _, p in good]))
        elif good:  # each prepared item is a list of views; encode them all in one batch
            encoded = encoder.encode_batch([view for _, views in good for view in views])
            start = 0
            for position, views in good:
                vectors.append(encoded[start : start + 1])
                if len(views) > 1:
                    extra.append((position, encoded[start + 1 : start + len(views)]))
                start += len(views)
        kept += [position for position, _ in good]
        advance(len(span))
    matrix = (
        np.concatenate(vectors) if vectors else np.empty((0, encoder.card.output_dim), np.float32)
    )
    if not np.isfinite(matrix).all():
        row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        _non_finite(encoder, dataset.ids[kept[row]])
    for position, views in extra:
        if not np.isfinite(views).all():
            _non_finite(encoder, dataset.ids[position], "an augmented view of ")
    table = item_table(dataset, encoder.card.output_dim, kept, matrix)
    if augment is None:
        return table, failures, None, consumed
    dim = encoder.card.output_dim
    items = np.asarray([p for p, _ in extra], np.int64)
    shape = (len(extra), augment.recipe.views - 1, dim)
    stacked = np.stack([v for _, v in extra]) if extra else np.empty(shape, np.float32)
    return table, failures, views_table(dim, items, stacked), consumed


def _non_finite(encoder: Encoder, item_id: str, what: str = "") -> None:
    raise DataError(
        f"encoder {encoder.name!r} produced non-finite values for {what}item {item_id!r}"
    )


def _prepared(
    dataset: Dataset,
    encoder: Encoder,
    batches: Sequence[range],
    pool: Executor,
    workers: int,
    augment: ImageViews | None = None,
    depth: int = PREFETCH_BATCHES,
) -> Iterator[tuple[range, list[tuple[Any, str | None]]]]:
    """Yield each batch's prepared items while the next `depth` batches are being prepared.

    A batch is split into one task per worker so that process pools pay little per item.
    With `augment`, each prepared item is the list of its views (one for test items).
    """
    queue: deque[tuple[range, list[Future]]] = deque()
    wanted = augmented_positions(dataset) if augment is not None else None

    def task(i: int) -> Any:
        if augment is None:
            return dataset.items[i]
        return (dataset.items[i], i, augment.recipe.views if wanted[i] else 1)

    prepare = encoder.preprocessor if augment is None else augment

    def submit(span: range) -> list[Future]:
        step = max(1, -(-len(span) // workers))
        return [
            pool.submit(_prepare_many, prepare, [task(i) for i in chunk])
            for chunk in (span[k : k + step] for k in range(0, len(span), step))
        ]

    for span in batches:
        queue.append((span, submit(span)))
        if len(queue) > depth:
            done, futures = queue.popleft()
            yield done, [r for f in futures for r in f.result()]
    while queue:
        done, futures = queue.popleft()
        yield done, [r for f in futures for r in f.result()]


def _prepare_many(preprocessor: Callable[[Any], Any], items: list[Any]) -> list[tuple]:
    """(prepared, None) or (None, reason) for each item; runs in a worker thread or process."""
    results: list[tuple] = []
    for item in items:
        try:
            results.append((preprocessor(item), None))
        except ItemError as error:
            results.append((None, str(error)))
    return results


@contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (None leaves it alone)."""
    if num_threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
