"""Slides on Ray: one task per slide, each rebuilding the encoder from its recipe and running
the local per-slide pipeline (tissue, grid, threaded embedding) where Ray places it; records
come back as tasks finish, so the bag store's record is kept current. A task that fails (a
worker lost) becomes a skipped slide with its reason; the other slides go on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from headstart.encoders import Encoder, create_encoder
from headstart.exceptions import DataError
from headstart.scale.engines import RaySettings, gpus_per_actor, start_ray
from headstart.workflow.slides import SlideJob, SlideRecipe, slide_id


def slide_task(
    job: SlideJob,
    encoder_recipe: dict[str, Any],
    out: Path,
    recipe: SlideRecipe,
    device: str,
    threads: int,
    batch_size: int,
) -> dict[str, Any]:
    """Runs in a Ray worker: one slide, start to finish."""
    import torch

    torch.set_num_threads(max(1, threads))
    options = encoder_recipe.get("options", {})
    encoder = create_encoder(encoder_recipe["name"], **options, device=device)
    return job.run(encoder, out, recipe, False, batch_size=batch_size, num_workers=threads)


def slides_with_ray(
    jobs: Sequence[SlideJob],
    encoder: Encoder,
    out: Path,
    recipe: SlideRecipe,
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
    waiting = list(jobs)
    running: dict[Any, SlideJob] = {}
    while waiting or running:
        while waiting and len(running) < settings.concurrency:
            job = waiting.pop(0)
            ref = task.remote(job, encoder.recipe, out, recipe, device, cpus, settings.batch_size)
            running[ref] = job
        (done,), _ = ray.wait(list(running), num_returns=1)
        job = running.pop(done)
        try:
            record = ray.get(done)
        except Exception as error:  # a worker lost or killed: listed, the others go on
            record = {
                "id": slide_id(job.path),
                "path": str(job.path),
                "status": "skipped",
                "reason": f"the Ray task failed: {type(error).__name__}: {error}",
            }
        yield record
