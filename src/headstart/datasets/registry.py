"""The dataset registry and `load_dataset`, which also accepts a folder or a CSV path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.datasets.dataset import Dataset
from headstart.registry import Registry

DATASETS: Registry[Dataset] = Registry("dataset")


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load a registered dataset by name, or an image folder / CSV manifest given as a path."""
    if name not in DATASETS:
        path = Path(name)
        if path.suffix.lower() == ".csv" and path.exists():
            return DATASETS.create("csv", path=path, **options)
        if path.is_dir():
            return DATASETS.create("image-folder", path=path, **options)
    return DATASETS.create(name, **options)


def list_datasets() -> list[tuple[str, str]]:
    """(name, one-line summary) for every registered dataset."""
    return [(entry.name, entry.summary) for entry in DATASETS]
