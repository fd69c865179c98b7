"""The dataset registry and `load_dataset`, which also accepts a folder or a CSV path."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from headstart.datasets.dataset import Dataset
from headstart.exceptions import DataError
from headstart.registry import Registry

DATASETS: Registry[Dataset] = Registry("dataset")


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load a registered dataset by name, or an image folder / CSV file given as a path (an
    image manifest, or texts when the header has a `text` column)."""
    if name not in DATASETS:
        path = Path(name)
        if path.suffix.lower() == ".csv" and path.is_file():
            return DATASETS.create(_csv_kind(path), path=path, **options)
        if path.is_dir():
            return DATASETS.create("image-folder", path=path, **options)
        if "/" in name or path.suffix.lower() == ".csv":  # meant as a path, not a name
            raise DataError(f"{name} does not exist (no such folder or CSV file)")
    return DATASETS.create(name, **options)


def _csv_kind(path: Path) -> str:
    """ "text-csv" when the header names a `text` column and no `path` column, else "csv"."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    columns = {h.strip() for h in header}
    return "text-csv" if "text" in columns and "path" not in columns else "csv"


def list_datasets() -> list[tuple[str, str]]:
    """(name, one-line summary) for every registered dataset."""
    return [(entry.name, entry.summary) for entry in DATASETS]
