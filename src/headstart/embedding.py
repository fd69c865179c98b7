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
from headstart.exceptions import DataError
from headstart.progress import progress_bar
from headstart.store import Manifest, Store, StoreWriter, cache_key, describe_failure, shard_table

DEFAULT_SHARD_SIZE = 1024
PREFETCH_BATCHES = 2  # batches being decoded while the model runs
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


def store_key(dataset: Dataset, encoder: Encoder) -> str:
    """The cache key of embedding `dataset` with `encoder`."""
    return cache_key(encoder.card.digest(), dataset.fingerprint)


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
) -> EmbedResult:
    """Embed every item of `dataset` into the store at `out` (resuming or reusing it).

    `decode="processes"` prepares items in worker processes: file decoding in Python holds the
    GIL for part of each image, so many-core machines feeding a GPU need processes.
    """
    if decode not in DECODERS:
        raise DataError(f"decode must be one of {sorted(DECODERS)}, got {decode!r}")
    if dataset.modality != encoder.card.modality:
        raise DataError(
            f"dataset {dataset.name!r} holds {dataset.modality} items but encoder "
            f"{encoder.name!r} takes {encoder.card.modality} items"
        )
    if shard_size < 1:
        raise DataError(f"shard_size must be positive, got {shard_size}")
    started = time.perf_counter()
    manifest = Manifest(
        key=store_key(dataset, encoder),
        encoder=encoder.card.to_dict(),
        dataset=dataset.describe(),
        dim=encoder.card.output_dim,
        n_items=len(dataset),
        shard_size=shard_size,
        created=datetime.now(UTC).isoformat(),
        versions={"headstart": __version__},
        recipe=encoder.recipe or {},
    )
    writer = StoreWriter.open(out, manifest, overwrite=overwrite)
    if writer.manifest.complete:
        return EmbedResult(Store(out), True, 0, len(writer.manifest.failures), 0.0)
    pending = writer.pending_shards()
    done_items = writer.manifest.n_items - sum(len(writer.shard_range(i)) for i in pending)
    batch = batch_size or default_batch_size(getattr(encoder, "device", "cpu"))
    workers = num_workers or min(8, os.cpu_count() or 1)
    embedded = 0
    with (
        _torch_threads(num_threads),
        DECODERS[decode](workers) as pool,
        progress_bar(progress) as bar,
    ):
        task = bar.add_task(
            f"embed {dataset.name} with {encoder.name}", total=len(dataset), completed=done_items
        )
        for index in pending:
            positions = writer.shard_range(index)
            table, failures = _embed_shard(
                dataset, encoder, positions, batch, pool, workers, lambda n: bar.advance(task, n)
            )
            writer.write_shard(index, table, failures)
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
) -> tuple[Any, list[dict[str, str]]]:
    """Encode the items at `positions`; returns the shard table and the skipped items."""
    kept: list[int] = []
    vectors: list[np.ndarray] = []
    failures: list[dict[str, str]] = []
    batches = [positions[i : i + batch_size] for i in range(0, len(positions), batch_size)]
    for span, results in _prepared(dataset, encoder, batches, pool, workers):
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
        if good:
            vectors.append(encoder.encode_batch([p for _, p in good]))
            kept += [position for position, _ in good]
        advance(len(span))
    matrix = (
        np.concatenate(vectors) if vectors else np.empty((0, encoder.card.output_dim), np.float32)
    )
    if not np.isfinite(matrix).all():
        row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise DataError(
            f"encoder {encoder.name!r} produced non-finite values for item "
            f"{dataset.ids[kept[row]]!r}"
        )
    index = np.asarray(kept, np.int64)
    table = shard_table(
        encoder.card.output_dim,
        [dataset.ids[i] for i in kept],
        index,
        dataset.labels[index],
        None if dataset.split is None else [str(s) for s in dataset.split[index]],
        None if dataset.groups is None else [str(g) for g in dataset.groups[index]],
        matrix,
    )
    return table, failures


def _prepared(
    dataset: Dataset,
    encoder: Encoder,
    batches: Sequence[range],
    pool: Executor,
    workers: int,
    depth: int = PREFETCH_BATCHES,
) -> Iterator[tuple[range, list[tuple[Any, str | None]]]]:
    """Yield each batch's prepared items while the next `depth` batches are being prepared.

    A batch is split into one task per worker so that process pools pay little per item.
    """
    queue: deque[tuple[range, list[Future]]] = deque()

    def submit(span: range) -> list[Future]:
        step = max(1, -(-len(span) // workers))
        return [
            pool.submit(_prepare_many, encoder.preprocessor, [dataset.items[i] for i in chunk])
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
