"""Locating weight files that ship inside Python packages, and loading them safely."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from headstart.exceptions import MissingExtraError, WeightsUnavailableError


def package_file(package: str, relative: str, install_hint: str) -> Path:
    """Path of `relative` inside installed `package`, or an error saying what to install."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(f"weights ship in the '{package}' package: {install_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise WeightsUnavailableError(f"expected weights file {path} is missing; {install_hint}")
    return path


def load_state_dict(module: torch.nn.Module, path: Path) -> None:
    """Load tensors from `path` (never unpickling objects) and require every key to match."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict(state, strict=True)
