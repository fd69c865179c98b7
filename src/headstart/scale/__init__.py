"""Execution engines for embedding and batch prediction: `local` (threads in this process)
and `ray` (Ray Data over a local or existing cluster; the `[ray]` extra). Layer 4: `api`
dispatches `--engine` here."""

from headstart.scale import local, ray_engine  # noqa: F401  (register the engines)
from headstart.scale.engines import ENGINES, RaySettings, ray_module

__all__ = ["ENGINES", "RaySettings", "ray_module"]
