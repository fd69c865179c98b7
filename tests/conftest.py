"""Shared fixtures: small real datasets and encoders built once per session."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from headstart.datasets import Dataset, load_dataset
from headstart.encoders import create_encoder

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="session")
def small_digits(digits: Dataset) -> Dataset:
    """48 digits, class-balanced."""
    return digits.take(48)


@pytest.fixture(scope="session")
def lite0():
    return create_encoder("efficientnet-lite0")


@pytest.fixture(scope="session")
def imagenet_names() -> list[str]:
    """ImageNet-1k class names in model index order, read from timm's data files."""
    spec = importlib.util.find_spec("timm")  # installed with --no-deps by the Makefile
    assert spec is not None, "timm provides the ImageNet class names: make installs it"
    info = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info"
    lemmas = dict(
        line.rstrip("\n").split("\t", 1)
        for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines()
    )
    return [lemmas[s] for s in (info / "imagenet_synsets.txt").read_text().split()]


def random_image(rng: np.random.Generator, size: tuple[int, int] = (40, 30)) -> np.ndarray:
    return rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)


def image_folder(root: Path, per_class: int, classes=("cat", "dog"), seed: int = 0) -> Path:
    """root/<class>/<i>.png of random 12×12 images; returns root."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label in classes:
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(random_image(rng, (12, 12))).save(root / label / f"{i}.png")
    return root


@pytest.fixture
def hide_module(monkeypatch):
    """hide_module(name): `importlib.util.find_spec` reports that module as not installed."""
    real = importlib.util.find_spec

    def hide(name: str) -> None:
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda n, *a: None if n == name else real(n, *a)
        )

    return hide


def served_folders(root: Path, per_class: int) -> Path:
    """root/img (random cats and dogs), root/store (raw pixels), root/pets (a prototype
    model with an msp reject option, fitted on every image) and root/pets-index: what the
    service tests serve."""
    from headstart import api

    images = image_folder(root / "img", per_class=per_class)
    store = api.embed(str(images), "raw-pixels", root / "store", progress=False).store
    # all rows: the tests ask for the model's own training images back (random pixels)
    api.fit(store.root, "prototype", root / "pets", reject="msp", all_rows=True)
    api.build_index(store.root, root / "pets-index")
    return root
