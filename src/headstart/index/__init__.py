"""Vector search over a store with FAISS (the `[index]` extra): the index kinds and how they
follow from the store's size, the search depth tuned to a recall target, and the saved form
(FAISS's own file + JSON + Parquet; never pickle)."""

from headstart.index.kinds import INDEX_KINDS, plan_index
from headstart.index.saved import VectorIndex, load_index
from headstart.index.tuning import exact_neighbours, recall_at

__all__ = [
    "INDEX_KINDS",
    "VectorIndex",
    "exact_neighbours",
    "load_index",
    "plan_index",
    "recall_at",
]
