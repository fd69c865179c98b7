"""Datasets: loaders registered by name, each returning a `Dataset` (items, labels, split)."""

from headstart.datasets import (  # noqa: F401  (registers the loaders)
    block_mnist,
    colored_mnist,
    copy_detection,
    csv_manifest,
    fashion_mnist,
    image_folder,
    mnist5k,
    sklearn_digits,
    text_corpora,
    text_csv,
)
from headstart.datasets.dataset import SPLITS, Dataset
from headstart.datasets.image_decoding import MAX_PIXELS, ItemError, load_rgb
from headstart.datasets.registry import DATASETS, list_datasets, load_dataset

__all__ = [
    "DATASETS",
    "MAX_PIXELS",
    "SPLITS",
    "Dataset",
    "ItemError",
    "list_datasets",
    "load_dataset",
    "load_rgb",
]
