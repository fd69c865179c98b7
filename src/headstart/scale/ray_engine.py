"""The Ray engine. Embedding with Ray Data: items flow as a Ray dataset through
`map_batches` over a pool of stateful encoder actors (each builds the encoder once from its
recipe); the driver writes the same store as the local engine (same manifest and key,
Parquet shards written as each finishes), so a killed run resumes from its last shard and
either engine may finish it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.datasets import Dataset, ItemError
from headstart.embedding import (
    EmbedResult,
    check_embedding,
    default_batch_size,
    item_table,
    new_manifest,
)
from headstart.encoders import Encoder, create_encoder
from headstart.exceptions import DataError
from headstart.progress import progress_bar
from headstart.scale.engines import ENGINES, RaySettings, gpus_per_actor, start_ray
from headstart.scale.ray_predict import predict_with_ray
from headstart.store import Store, StoreWriter, describe_failure
from headstart.workflow.queries import encode_prepared


class EncodeActor:
    """Lives in a Ray worker: the encoder built once, then batches of items → vectors."""

    def __init__(self, recipe: dict[str, Any], device: str, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.encoder = create_encoder(recipe["name"], **recipe.get("options", {}), device=device)
        self.device = device

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prepared, reasons = [], []
        for item in batch["item"]:
            try:
                prepared.append(self.encoder.prepare(item))
                reasons.append("")
            except ItemError as error:
                reasons.append(str(error))
        # Ray's batch moves data; the encoder computes in its own fastest chunk size
        good = encode_prepared(self.encoder, prepared, default_batch_size(self.device))
        vectors = np.zeros((len(reasons), self.encoder.card.output_dim), np.float32)
        vectors[[i for i, r in enumerate(reasons) if not r]] = good
        return {"position": batch["position"], "vector": vectors, "reason": np.array(reasons)}


@ENGINES.register("ray", "Ray Data: an encoder actor pool on a local or existing cluster")
class RayEngine:
    """Embeds and predicts with Ray Data; options are those of `RaySettings`."""

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        concurrency: int = 1,
        num_gpus: float | None = None,
        batch_size: int = 64,
    ) -> None:
        self.settings = RaySettings(address, num_cpus, concurrency, num_gpus, batch_size)
        self.settings.check()

    def embed(
        self, dataset: Dataset, encoder: Encoder, out: str | Path, **common: Any
    ) -> EmbedResult:
        views = common.pop("views", None)
        if views is not None:
            raise DataError("augmented views (--views) are embedded by the local engine only")
        return embed_with_ray(dataset, encoder, out, self.settings, **common)

    def predict(
        self, model_dir: str | Path, vectors: np.ndarray, ids: Sequence[str], top_k: int
    ) -> list[dict[str, Any]]:
        return predict_with_ray(model_dir, vectors, ids, top_k, self.settings)

    def slides(
        self, jobs: Sequence[Any], encoder: Encoder, out: Path, recipe: Any, progress: bool
    ) -> Iterator:
        """One Ray task per slide (see `ray_slides`); records as the tasks finish."""
        from headstart.scale.ray_slides import slides_with_ray

        return slides_with_ray(jobs, encoder, out, recipe, self.settings)


def embed_with_ray(
    dataset: Dataset,
    encoder: Encoder,
    out: str | Path,
    settings: RaySettings,
    *,
    shard_size: int,
    overwrite: bool = False,
    progress: bool = True,
) -> EmbedResult:
    """Embed `dataset` into the store at `out` with Ray; resumes a store left unfinished."""
    check_embedding(dataset, encoder, shard_size)
    if not encoder.recipe:
        raise DataError(f"encoder {encoder.name!r} has no recipe for Ray workers to rebuild it")
    started = time.perf_counter()
    writer = StoreWriter.open(out, new_manifest(dataset, encoder, shard_size), overwrite)
    if writer.manifest.complete:  # a cache hit: let go of the folder at once
        writer.close()
        return EmbedResult(Store(out), True, 0, len(writer.manifest.failures), 0.0)
    ranges = {i: writer.remaining_range(i) for i in writer.pending_shards()}
    positions = [p for span in ranges.values() for p in span]
    if not positions:  # every shard was written by an earlier run
        final = writer.finish()
        return EmbedResult(Store(out), False, 0, len(final.failures), 0.0)
    ray = start_ray(settings)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    gpus = gpus_per_actor(ray, settings)
    rows = [{"position": p, "item": _plain(dataset.items[p])} for p in positions]
    mapped = ray.data.from_items(rows).map_batches(
        EncodeActor,
        fn_constructor_kwargs={
            "recipe": encoder.recipe,
            "device": "cuda" if gpus > 0 else "cpu",
            "threads": max(1, cpus // settings.concurrency),
        },
        batch_size=settings.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=settings.concurrency),
        num_cpus=max(1, cpus // settings.concurrency) if gpus == 0 else 1,
        num_gpus=gpus,
    )
    embedded = 0
    dim = encoder.card.output_dim
    with progress_bar(progress) as bar:
        task = bar.add_task(
            f"embed {dataset.name} with {encoder.name} (ray)",
            total=len(dataset),
            completed=len(dataset) - len(positions),
        )
        shards = iter(ranges.items())
        index, span = next(shards, (None, range(0)))
        kept, vectors, failures = [], [], []
        for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
            for position, vector, reason in zip(
                batch["position"], batch["vector"], batch["reason"], strict=True
            ):
                position = int(position)
                if reason:
                    item = dataset.items[position] if dataset.modality == "image" else None
                    failures.append(
                        describe_failure(dataset.ids[position], position, item, str(reason))
                    )
                else:
                    kept.append(position)
                    vectors.append(vector)
                if position == span.stop - 1:  # the shard is complete: write it
                    matrix = np.stack(vectors) if vectors else np.empty((0, dim), np.float32)
                    _check_finite(matrix, dataset, kept, encoder)
                    writer.write_shard(index, item_table(dataset, dim, kept, matrix), failures)
                    embedded += len(kept)
                    kept, vectors, failures = [], [], []
                    index, span = next(shards, (None, range(0)))
            bar.advance(task, len(batch["position"]))
    final = writer.finish()
    return EmbedResult(
        Store(out), False, embedded, len(final.failures), time.perf_counter() - started
    )


def _plain(item: Any) -> Any:
    """Paths travel as text; texts and arrays as they are."""
    return item if isinstance(item, str | np.ndarray) else str(item)


def _check_finite(matrix: np.ndarray, dataset: Dataset, kept: list[int], encoder: Encoder) -> None:
    if not np.isfinite(matrix).all():
        row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise DataError(
            f"encoder {encoder.name!r} produced non-finite values for item "
            f"{dataset.ids[kept[row]]!r}"
        )
