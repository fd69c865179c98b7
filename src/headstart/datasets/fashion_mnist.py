"""Fashion-MNIST from IDX files: Debian's copy, `$HEADSTART_DATA`, a given path, or a download.

The official 60,000 / 10,000 train/test split is kept. Downloads are verified against the
sha256 of the decompressed files, so any faithful mirror or recompression is accepted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from headstart.datasets.dataset import Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError

CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# sha256 of the *decompressed* IDX files
FILES = {
    "train-images-idx3-ubyte.gz": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ),
    "train-labels-idx1-ubyte.gz": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
    ),
}


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file of unsigned bytes into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise DataError(
            f"{path}: header declares shape {shape} ({expected} bytes) "
            f"but the file holds {len(data) - header} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def locate(path: str | Path | None = None, download: bool = False) -> Path:
    """The folder holding the four IDX files; downloads into the cache when asked."""
    candidates = [Path(path)] if path else []
    if not path:
        if os.environ.get("HEADSTART_DATA"):
            candidates.append(Path(os.environ["HEADSTART_DATA"]) / "fashion-mnist")
        candidates += [DEBIAN_DIR, _cache_dir()]
    for folder in candidates:
        if all((folder / name).exists() for name in FILES):
            return folder
    if download and not path:
        return fetch(_cache_dir())
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"Fashion-MNIST files not found (looked in {looked}). Install Debian's "
        "'dataset-fashion-mnist', set $HEADSTART_DATA, pass path=..., or download=True."
    )


def fetch(folder: Path) -> Path:
    """Download the four files into `folder`, verifying each before it is kept."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, expected in FILES.items():
        target = folder / name
        if target.exists():
            continue
        partial = target.with_suffix(".part")
        urllib.request.urlretrieve(MIRROR + name, partial)
        got = hashlib.sha256(gzip.decompress(partial.read_bytes())).hexdigest()
        if got != expected:
            partial.unlink()
            raise DataError(f"downloaded {name} has sha256 {got}, expected {expected}")
        partial.rename(target)
    return folder


def _cache_dir() -> Path:
    root = os.environ.get("HEADSTART_CACHE") or Path.home() / ".cache" / "headstart"
    return Path(root) / "data" / "fashion-mnist"


@DATASETS.register(
    "fashion-mnist", "Fashion-MNIST: 60,000 train / 10,000 test 28×28 images, 10 classes"
)
def load_fashion_mnist(path: str | Path | None = None, download: bool = False) -> Dataset:
    """Fashion-MNIST with its official split; train items come first."""
    folder = locate(path, download)
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
        if len(images) != len(labels):
            raise DataError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
        parts[split] = (images, labels)
    images = np.concatenate([parts["train"][0], parts["test"][0]])
    labels = np.concatenate([parts["train"][1], parts["test"][1]]).astype(np.int64)
    n_train = len(parts["train"][0])
    ids = [f"train-{i:05d}" for i in range(n_train)]
    ids += [f"test-{i:05d}" for i in range(len(images) - n_train)]
    split = np.array(["train"] * n_train + ["test"] * (len(images) - n_train), dtype=object)
    return Dataset(
        name="fashion-mnist",
        items=images,
        labels=labels,
        class_names=CLASS_NAMES,
        ids=ids,
        split=split,
        source=str(folder),
    )
