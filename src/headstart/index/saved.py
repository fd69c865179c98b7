"""`VectorIndex`: a FAISS index over a store's unit vectors with the items' ids and labels,
saved as FAISS's own file (`index.faiss`), `items.parquet` and `index.json` (kind, tuned
depth, measured recall, the store's key and encoder card, and both files' sha256)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headstart.cards import file_sha256
from headstart.exceptions import DataError, StoreError
from headstart.index.kinds import build_index, faiss_module, plan_index, set_depth
from headstart.index.tuning import tune_depth
from headstart.json_files import read_sealed_json, write_sealed_json
from headstart.output import new_folder
from headstart.vector_index import unit_rows

INDEX_FILE, ITEMS_FILE, META_FILE = "index.faiss", "items.parquet", "index.json"
FORMAT = 1


@dataclass
class VectorIndex:
    """A searchable index: `search(queries, k)` → cosine scores and item positions."""

    index: Any
    ids: list[str]
    labels: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        ids: list[str],
        labels: np.ndarray,
        meta: dict[str, Any] | None = None,
        kind: str = "auto",
        recall: float = 0.95,
    ) -> VectorIndex:
        """Index `vectors` (cosine): the kind from their number unless given, the search
        depth tuned until sample queries reach `recall`@10 against exact search."""
        if not 0.0 < recall <= 1.0:
            raise DataError(f"recall must be in (0, 1], got {recall}")
        if not np.isfinite(vectors).all():
            raise DataError("the vectors hold non-finite values; an index cannot rank them")
        started = time.perf_counter()
        unit = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(unit, axis=1)
        if not np.allclose(norms, 1.0, atol=1e-4):  # already unit rows: no second copy
            unit = unit_rows(unit)
        plan = plan_index(len(unit), kind)
        index = build_index(unit, plan)
        plan = tune_depth(index, unit, plan, recall)
        plan["build_seconds"] = round(time.perf_counter() - started, 3)
        info = {"n": len(unit), "dim": int(unit.shape[1]), "metric": "cosine", "plan": plan}
        return cls(index, list(ids), np.asarray(labels, np.int64), (meta or {}) | info)

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    def search(
        self, queries: np.ndarray, k: int = 10, depth: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(q, k) cosine scores and positions of each query's nearest items, best first;
        positions are −1 where fewer than k items were found."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if queries.shape[1] != self.dim:
            raise DataError(
                f"queries are {queries.shape[1]}-d but the index holds {self.dim}-d vectors "
                f"({self.meta.get('encoder', {}).get('name', 'unknown encoder')})"
            )
        if k < 1:
            raise DataError(f"k must be at least 1, got {k}")
        if not np.isfinite(queries).all():
            raise DataError("a query vector holds non-finite values")
        if depth is not None:
            set_depth(self.index, depth)
        scores, positions = self.index.search(np.ascontiguousarray(unit_rows(queries)), k)
        return scores, positions

    def save(self, folder: str | Path) -> Path:
        """Write the three files into a new `folder` (atomically: all or nothing)."""
        faiss = faiss_module("saving an index")
        folder = Path(folder)
        with new_folder(folder, "indexes") as staging:
            faiss.write_index(self.index, str(staging / INDEX_FILE))
            table = pa.table({"id": pa.array(self.ids, pa.string()), "label": self.labels})
            pq.write_table(table, staging / ITEMS_FILE)
            meta = self.meta | {
                "format": FORMAT,
                "sha256": {name: file_sha256(staging / name) for name in (INDEX_FILE, ITEMS_FILE)},
            }
            write_sealed_json(staging / META_FILE, meta)
        return folder


def load_index(folder: str | Path) -> VectorIndex:
    """Read a saved index, checking its JSON and both files' sha256 first."""
    folder = Path(folder)
    path = folder / META_FILE
    meta = read_sealed_json(path, f"{folder} is not a headstart index (no {META_FILE})")
    if meta.get("format") != FORMAT or "dim" not in meta:
        raise StoreError(f"{path}: not an index description of format {FORMAT}")
    for name in (INDEX_FILE, ITEMS_FILE):
        file = folder / name
        if not file.is_file():
            raise StoreError(f"{file} is missing")
        if file_sha256(file) != meta.get("sha256", {}).get(name):
            raise StoreError(f"{file} does not match the sha256 in {META_FILE}: changed or torn")
    faiss = faiss_module("reading an index")
    index = faiss.read_index(str(folder / INDEX_FILE))
    items = pq.read_table(folder / ITEMS_FILE)
    if index.ntotal != len(items) or index.d != meta["dim"]:
        raise StoreError(f"{folder}: {index.ntotal} vectors of {index.d}-d do not match its items")
    set_depth(index, meta["plan"].get("depth"))
    labels = items.column("label").to_numpy()
    return VectorIndex(index, items.column("id").to_pylist(), labels, meta)
