"""What the prediction service holds in memory: each saved model with its encoder, each
index with its encoder, loaded once; requests hand them items or vectors."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from headstart.api.index import search_rows
from headstart.embedding import default_batch_size
from headstart.exceptions import DataError
from headstart.index import VectorIndex, load_index
from headstart.store.import_vectors import SCALE_RANGE
from headstart.workflow import SavedModel
from headstart.workflow.queries import encode_prepared, prepare_queries, rebuild_encoder


def as_vectors(values: Any, dim: int | None, what: str) -> np.ndarray:
    """A JSON list of vectors as a float32 matrix of width `dim`, or a `DataError`."""
    try:
        matrix = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"vectors must be a list of equal-length number lists: {error}") from error
    if matrix.ndim != 2 or len(matrix) == 0:
        raise DataError(
            f"vectors must be a non-empty list of number lists, got shape {matrix.shape}"
        )
    if dim is not None and matrix.shape[1] != dim:
        raise DataError(f"{what} takes {dim}-d vectors; these are {matrix.shape[1]}-d")
    if not np.isfinite(matrix).all():
        raise DataError("vectors hold non-finite values")
    norms = np.linalg.norm(matrix.astype(np.float64), axis=1)
    wrong = np.flatnonzero(norms > SCALE_RANGE[1])
    if len(wrong):  # the ceiling `store import` enforces: above it float32 heads overflow
        row = int(wrong[0])
        raise DataError(
            f"vectors[{row}] has length {norms[row]:.3g}, above {SCALE_RANGE[1]:g}, where "
            f"{what} cannot answer soundly; rescale it as the vectors it was fitted on"
        )
    return matrix


def count_pixels(payloads: Sequence[Any]) -> int:
    """Pixels the uploaded images would decode to, read from their headers only (Pillow
    knows the size after `open`, before decoding); one it cannot open counts 0 here and is
    named when it is prepared."""
    total = 0
    for payload in payloads:
        if not isinstance(payload, bytes | bytearray):
            continue
        try:
            with Image.open(io.BytesIO(payload)) as image:
                width, height = image.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            continue
        total += width * height
    return total


class Served:
    """A loaded thing (model or index) with the encoder its vectors came from."""

    name: str
    card: dict[str, Any]
    encoder: Any
    dim: int

    def _load_encoder(self, recipe: dict[str, Any] | None) -> None:
        self.modality = self.card.get("modality", "")
        self.encoder = rebuild_encoder(recipe, self.card, self.what) if recipe else None

    @property
    def what(self) -> str:
        return f"{type(self).__name__.removeprefix('Served').lower()} {self.name!r}"

    def limit_pixels(self, max_pixels: int) -> None:
        """A tighter decompression-bomb guard for uploads than the one for a user's files."""
        preprocessor = getattr(self.encoder, "preprocessor", None)
        if preprocessor is not None and hasattr(preprocessor, "max_pixels"):
            preprocessor.max_pixels = min(preprocessor.max_pixels, max_pixels)

    def prepare(self, items: Sequence[Any], names: Sequence[str]) -> list[Any]:
        """Items decoded and preprocessed for the encoder (per-item work, any thread). Items
        come from the network: image bytes or texts, never a path on this machine."""
        if self.encoder is None:
            raise DataError(f"{self.what} was built on imported vectors: send vectors")
        kind = bytes | bytearray if self.modality == "image" else str
        for position, item in enumerate(items):
            if not isinstance(item, kind):
                raise DataError(
                    f"{self.what} holds {self.modality} vectors; {names[position]!r} is not "
                    f"{'an uploaded image' if self.modality == 'image' else 'a text'}"
                )
        return prepare_queries(self.encoder, items, names)

    def encode(self, prepared: Sequence[Any]) -> np.ndarray:
        """The encoder over prepared items (one micro-batch), in chunks of the size it runs
        fastest at on its device (4 on CPU, where larger batches spill out of cache)."""
        device = getattr(self.encoder, "device", "cpu")
        return encode_prepared(self.encoder, prepared, batch=default_batch_size(device))


class ServedModel(Served):
    """A saved model and its encoder."""

    def __init__(self, folder: str | Path, name: str | None = None) -> None:
        self.saved = SavedModel(folder)
        self.name = name or Path(folder).resolve().name
        self.card = self.saved.provenance.get("encoder") or {}
        self._load_encoder(self.saved.provenance.get("recipe"))

    def describe(self) -> dict[str, Any]:
        provenance = self.saved.provenance
        reject = self.saved.reject
        return {
            "name": self.name,
            "head": provenance.get("head"),
            "classes": self.saved.names,
            "encoder": self.card,
            "modality": self.modality,
            "dim": self.saved.dim,
            "inputs": ["vectors", *([self.modality] if self.encoder else [])],
            "reject": None
            if reject is None
            else {"score": reject.score, "tpr": reject.tpr, "threshold": reject.threshold_},
            "provenance": {
                k: provenance.get(k) for k in ("store", "store_key", "trained_rows", "views")
            },
        }

    @property
    def dim(self) -> int:
        return self.saved.dim

    def vectors(self, values: Any) -> np.ndarray:
        return as_vectors(values, self.saved.dim, f"model {self.name!r}")

    def predict(self, vectors: np.ndarray, names: Sequence[str], top_k: int) -> list[dict]:
        """Per item: the top-k labels with probabilities, and the reject verdict if any."""
        return self.saved.predict(vectors, names, top_k).records()


class ServedIndex(Served):
    """A saved vector index and its encoder."""

    def __init__(self, folder: str | Path, name: str | None = None) -> None:
        self.index: VectorIndex = load_index(folder)
        self.name = name or Path(folder).resolve().name
        self.card = self.index.meta.get("encoder") or {}
        self._load_encoder(self.index.meta.get("recipe"))

    def describe(self) -> dict[str, Any]:
        meta = self.index.meta
        return {"name": self.name, "modality": self.modality} | {
            k: meta.get(k) for k in ("n", "dim", "plan", "store", "store_key", "class_names")
        }

    @property
    def dim(self) -> int:
        return self.index.dim

    def vectors(self, values: Any) -> np.ndarray:
        return as_vectors(values, self.index.dim, f"index {self.name!r}")

    def search(self, vectors: np.ndarray, names: Sequence[str], k: int) -> list[dict]:
        return search_rows(self.index, vectors, names, k)


def load_served(folders: Sequence[str | Path], kind: type[Served]) -> dict[str, Served]:
    """Each folder loaded once, keyed by its folder name (two folders of one name refused)."""
    loaded: dict[str, Served] = {}
    for folder in folders:
        item = kind(folder)
        if item.name in loaded:
            raise DataError(f"two folders are named {item.name!r}; serve them under other names")
        loaded[item.name] = item
    return loaded
