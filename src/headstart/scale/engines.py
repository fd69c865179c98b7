"""The engine registry, and how a Ray session is started or joined."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headstart.exceptions import DataError
from headstart.registry import Registry

ENGINES: Registry[Callable[..., Any]] = Registry("engine")  # filled by local.py, ray_engine.py


@dataclass(frozen=True)
class RaySettings:
    """How Ray runs: `address` of an existing cluster (None: start a local one with
    `num_cpus`), `concurrency` encoder actors, `num_gpus` per actor (None: 1 when the
    cluster has GPUs), `batch_size` items per actor call."""

    address: str | None = None
    num_cpus: int | None = None
    concurrency: int = 1
    num_gpus: float | None = None
    batch_size: int = 64

    def check(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1:
            raise DataError(
                f"concurrency and batch_size must be positive, got {self.concurrency} and "
                f"{self.batch_size}"
            )
        if self.num_gpus is not None and self.num_gpus < 0:
            raise DataError(f"num_gpus cannot be negative, got {self.num_gpus}")


def ray_module() -> Any:
    """`ray`, or a clear error naming the extra."""
    if importlib.util.find_spec("ray") is None:
        raise DataError("the ray engine needs Ray Data: pip install 'headstart[ray]'")
    import ray

    return ray


def start_ray(settings: RaySettings) -> Any:
    """Join `settings.address` or start a local Ray (quiet, no dashboard); returns `ray`."""
    ray = ray_module()
    if not ray.is_initialized():
        local = settings.address is None
        ray.init(
            address=settings.address,
            num_cpus=(settings.num_cpus or os.cpu_count() or 1) if local else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-dataset INFO lines
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def gpus_per_actor(ray: Any, settings: RaySettings) -> float:
    """The GPUs each actor asks for: as set, else 1 when the cluster has any."""
    if settings.num_gpus is not None:
        return settings.num_gpus
    return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
