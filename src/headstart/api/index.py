"""Vector search verbs: index a store, search it with images, texts or vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.cards import EncoderCard
from headstart.exceptions import DataError
from headstart.index import VectorIndex, load_index
from headstart.output import check_before_work
from headstart.store import Store
from headstart.store.import_vectors import read_vectors_file
from headstart.workflow.queries import check_query_modality, encode_queries, rebuild_encoder


def build_index(
    store: str | Path, out: str | Path, kind: str = "auto", recall: float = 0.95
) -> VectorIndex:
    """Index every row of a store (exact when small, IVF when large unless `kind` says) with
    the search depth tuned to `recall`@10; saved to `out` as FAISS + JSON + Parquet."""
    check_before_work(out, "indexes")
    source = Store(store)
    meta = {
        "store": str(source.root),
        "store_key": source.key,
        "encoder": source.card.to_dict(),
        "recipe": source.manifest.recipe,
        "class_names": source.class_names,
    }
    index = VectorIndex.build(source.vectors(), source.ids, source.labels, meta, kind, recall)
    index.save(out)
    return index


def query_vectors(
    index: VectorIndex, queries: Sequence[Any], vectors: str | Path | None = None, encoder=None
) -> tuple[np.ndarray, list[str]]:
    """The query vectors and their names: from a vectors file, else `queries` encoded with
    the index's encoder (built once and passed in by callers that search often)."""
    if vectors is not None:
        if queries:
            raise DataError("give queries or --vectors, not both")
        if (Path(vectors) / "manifest.json").is_file():  # every row of another store
            return _store_queries(index, Store(vectors))
        matrix = read_vectors_file(vectors)["vectors"]
        return matrix, [f"{Path(vectors).name}[{i}]" for i in range(len(matrix))]
    if not queries:
        raise DataError("nothing to search for: give queries (files or texts) or --vectors")
    what = f"index of {index.meta.get('store', 'a store')}"
    check_query_modality(index.meta["encoder"].get("modality", ""), queries, what)
    encoder = encoder or rebuild_encoder(index.meta.get("recipe"), index.meta["encoder"], what)
    names = [q if isinstance(q, str) else f"upload {i + 1}" for i, q in enumerate(queries)]
    return encode_queries(encoder, queries, names), names


def _store_queries(index: VectorIndex, store: Store) -> tuple[np.ndarray, list[str]]:
    """A store's rows as queries: its vectors must come from the index's encoder."""
    theirs, ours = store.card.to_dict(), index.meta.get("encoder", {})
    if store.dim != index.dim or EncoderCard.from_dict(ours).digest() != store.card.digest():
        raise DataError(
            f"store {store.root} holds {store.dim}-d {theirs.get('name')!r} vectors but the "
            f"index holds {index.dim}-d {ours.get('name')!r} vectors; search with the same "
            "encoder's store"
        )
    return store.vectors(), list(store.ids)


def search(
    index: str | Path | VectorIndex,
    queries: Sequence[Any] = (),
    k: int = 10,
    vectors: str | Path | None = None,
    encoder: Any = None,
) -> list[dict[str, Any]]:
    """One row per (query, rank): the query, the neighbour's id, class name and cosine."""
    index = index if isinstance(index, VectorIndex) else load_index(index)
    matrix, names = query_vectors(index, queries, vectors, encoder)
    return search_rows(index, matrix, names, k)


def search_rows(
    index: VectorIndex, matrix: np.ndarray, names: Sequence[str], k: int
) -> list[dict[str, Any]]:
    """Search `matrix` and name what was found: one row per (query, rank)."""
    scores, positions = index.search(matrix, k)
    classes = index.meta.get("class_names") or []
    rows = []
    for name, found, similarity in zip(names, positions, scores, strict=True):
        for rank, (position, score) in enumerate(zip(found, similarity, strict=True), start=1):
            if position < 0:
                break
            label = int(index.labels[position])
            rows.append(
                {
                    "query": name,
                    "rank": rank,
                    "id": index.ids[position],
                    "label": classes[label] if 0 <= label < len(classes) else "",
                    "score": round(float(score), 6),
                }
            )
    return rows
