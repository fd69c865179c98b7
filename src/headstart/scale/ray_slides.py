"""Slides on Ray: one task per slide, each rebuilding the encoder from its recipe and running
the local per-slide pipeline (tissue, grid, threaded embedding) where Ray places it; records
come back as tasks finish, so the bag store's record is kept current."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from headstart.encoders import Encoder, create_encoder
from headstart.exceptions import DataError
from headstart.scale.engines import RaySettings, gpus_per_actor, start_ray
from headstart.workflow.slides import SlideRecipe, embed_slide


def slide_task(
    path: Path,
    encoder_recipe: dict[str, Any],
    out: Path,
    recipe: SlideRecipe,
    mpp: float | None,
    device: str,
    threads: int,
    batch_size: int,
) -> dict[str, Any]:
    """Runs in a Ray worker: one slide, start to finish."""
    import torch

    torch.set_num_threads(max(1, threads))
    encoder = create_encoder(
        encoder_recipe["name"], **encoder_recipe.get("options", {}), device=device
    )
    return embed_slide(
        path, encoder, out, recipe, mpp, False, batch_size=batch_size, num_workers=threads
    )


def slides_with_ray(
    paths: Sequence[Path],
    encoder: Encoder,
    out: Path,
    recipe: SlideRecipe,
    mpps: dict[str, float],
    settings: RaySettings,
) -> Iterator[dict[str, Any]]:
    """Each slide's record as its task finishes (`settings.concurrency` slides at a time)."""
    if not encoder.recipe:
        raise DataError(f"encoder {encoder.name!r} has no recipe for Ray workers to rebuild it")
    ray = start_ray(settings)
    gpus = gpus_per_actor(ray, settings)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)) // settings.concurrency)
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(slide_task)
    device = "cuda" if gpus > 0 else "cpu"
    waiting = list(paths)
    running: list[Any] = []
    while waiting or running:
        while waiting and len(running) < settings.concurrency:
            path = waiting.pop(0)
            running.append(
                task.remote(
                    path,
                    encoder.recipe,
                    out,
                    recipe,
                    mpps.get(path.stem),
                    device,
                    cpus,
                    settings.batch_size,
                )
            )
        done, running = ray.wait(running, num_returns=1)
        yield ray.get(done[0])
