"""Instance retrieval with explicit ground truth: each query has its own positives and junk
among the gallery (every store row that is not a query), as in revisited Oxford and Paris
(Radenović et al. 2018) and copy detection. Junk items are removed from the ranking before
scoring: finding them is neither right nor wrong.

Ground truth, by `ground-truth`:
- `ids` (default): the id convention of the `copy-detection` dataset — `copy/<x>/...` rows are
  queries, `orig/<x>` their positive, `junk/<x>/...` their junk;
- a CSV with columns `query`, `positives` and optionally `junk` (store ids, `|`-separated).

Metrics over queries, cosine similarity on L2-normalised rows:
- **map**: mean average precision, AP = mean over positives of the precision at its rank (the
  standard, non-interpolated AP; scikit-learn's `average_precision_score` on one query);
- **map_oxford**: AP by the trapezoid rule of the Oxford/Paris `compute_ap` (revisitop's
  `compute_ap`), the number those benchmarks publish;
- **recall@k**: whether a positive is among the k nearest non-junk gallery items.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headstart.exceptions import DataError
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    option,
    register_protocol,
)
from headstart.protocol.results import Results
from headstart.vector_index import unit_rows

IDS = "ids"


@dataclass(frozen=True)
class Truth:
    """Row indices: the queries, and per query its positive and junk gallery rows."""

    queries: np.ndarray
    positives: list[np.ndarray]
    junk: list[np.ndarray]


def truth_from_ids(ids: list[str]) -> Truth:
    """The `copy/`, `orig/`, `junk/` id convention (see the module docstring)."""
    where = {item: row for row, item in enumerate(ids)}
    queries, positives, junk = [], [], []
    for row, item in enumerate(ids):
        if not item.startswith("copy/"):
            continue
        name = item.split("/")[1]
        original = where.get(f"orig/{name}")
        if original is None:
            raise DataError(f"query {item!r} has no original 'orig/{name}' in the store")
        queries.append(row)
        positives.append(np.array([original]))
        junk.append(np.array([r for i, r in where.items() if i.startswith(f"junk/{name}/")], int))
    if not queries:
        raise DataError(
            "no query in the store by the id convention (ids 'copy/<name>/...' with an "
            "original 'orig/<name>'); give --ground-truth FILE.csv with query,positives,junk"
        )
    return Truth(np.array(queries), positives, junk)


def truth_from_csv(path: Path, ids: list[str]) -> Truth:
    """Queries, positives and junk by id from a CSV; an unknown id names its line."""
    if not path.is_file():
        raise DataError(f"ground truth {path} does not exist (a CSV: query,positives,junk)")
    where = {item: row for row, item in enumerate(ids)}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"query", "positives"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"ground truth {path} has no column {sorted(missing)[0]!r}")
        queries, positives, junk = [], [], []
        for line, entry in enumerate(reader, start=2):

            def rows(field: str, line: int = line, entry: dict = entry) -> np.ndarray:
                names = [n.strip() for n in (entry.get(field) or "").split("|") if n.strip()]
                unknown = [n for n in names if n not in where]
                if unknown:
                    raise DataError(
                        f"{path}, line {line}: {field} id {unknown[0]!r} is not in the store"
                    )
                return np.array([where[n] for n in names], dtype=int)

            query = rows("query")
            if len(query) != 1:
                raise DataError(f"{path}, line {line}: give exactly one query id")
            found = rows("positives")
            if not len(found):
                raise DataError(f"{path}, line {line}: query {entry['query']!r} has no positive")
            ignored = rows("junk")
            both = np.intersect1d(found, ignored)
            if len(both):
                raise DataError(
                    f"{path}, line {line}: {ids[both[0]]!r} is both a positive and junk"
                )
            if int(query[0]) in found or int(query[0]) in ignored:
                raise DataError(f"{path}, line {line}: the query is its own positive or junk")
            queries.append(int(query[0]))
            positives.append(found)
            junk.append(ignored)
    if not queries:
        raise DataError(f"ground truth {path} lists no query")
    if len(set(queries)) != len(queries):
        raise DataError(f"ground truth {path} lists a query twice")
    listed = np.concatenate(positives + junk)
    asked = np.intersect1d(listed, queries)
    if len(asked):
        raise DataError(
            f"ground truth {path}: {ids[asked[0]]!r} is a query and also another query's "
            "positive or junk; the gallery holds every row that is not a query"
        )
    return Truth(np.array(queries), positives, junk)


def ranked_positions(order: np.ndarray, positives: np.ndarray, junk: np.ndarray) -> np.ndarray:
    """0-based ranks of the positives in `order` (gallery rows, best first) once junk rows
    are taken out of it."""
    kept = order[~np.isin(order, junk)]
    return np.sort(np.flatnonzero(np.isin(kept, positives)))


def average_precision(ranks: np.ndarray, n_positives: int) -> float:
    """Standard AP: mean over positives of (positives found so far) / (rank + 1); a
    positive never ranked counts 0."""
    return float(np.sum((np.arange(len(ranks)) + 1) / (ranks + 1)) / n_positives)


def oxford_average_precision(ranks: np.ndarray, n_positives: int) -> float:
    """AP by the trapezoid rule of Oxford/Paris `compute_ap`: at each positive, the mean of
    the precision just before and just after it, times a recall step of 1/n_positives."""
    total = 0.0
    for found, rank in enumerate(ranks):
        before = found / rank if rank > 0 else 1.0
        after = (found + 1) / (rank + 1)
        total += (before + after) / (2 * n_positives)
    return total


@dataclass
class InstanceRetrievalSettings(Settings):
    ground_truth: str = option(IDS, "'ids' (copy/orig/junk ids) or a CSV: query,positives,junk")
    recall_ks: list[int] = option([1, 5, 10], "k of recall@k (hit rate), comma-separated")

    def validate(self) -> None:
        if not self.recall_ks or min(self.recall_ks) < 1:
            raise DataError(f"setting recall-ks = {self.recall_ks}: give ranks ≥ 1")


@register_protocol
class InstanceRetrieval(Protocol):
    """Instance retrieval with per-query positives and junk (revisited Oxford's mAP)."""

    name = "instance-retrieval"
    title = "Instance retrieval by {encoder} features: each query's own positives, junk ignored"
    settings_type = InstanceRetrievalSettings
    metrics = (Metric("map"), Metric("map_oxford"), Metric("recall_at_k"))
    main_metric = "map"

    def total(self, settings: InstanceRetrievalSettings) -> int:
        return 1

    def run(
        self,
        inputs: StoreInputs,
        settings: InstanceRetrievalSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        assert inputs.whole is not None, "the workflow hands store protocols every row"
        vectors, ids = inputs.whole()
        if settings.ground_truth == IDS:
            truth = truth_from_ids(ids)
        else:
            truth = truth_from_csv(Path(settings.ground_truth), ids)
        gallery = np.setdiff1d(np.arange(len(ids)), truth.queries)
        unit = unit_rows(np.asarray(vectors, dtype=np.float32))
        scores = unit[truth.queries] @ unit[gallery].T
        orders = gallery[np.argsort(-scores, axis=1, kind="stable")]
        aps, oxford, hits = [], [], {k: [] for k in settings.recall_ks}
        for order, positive, junk in zip(orders, truth.positives, truth.junk, strict=True):
            ranks = ranked_positions(order, positive, junk)
            aps.append(average_precision(ranks, len(positive)))
            oxford.append(oxford_average_precision(ranks, len(positive)))
            for k in settings.recall_ks:
                hits[k].append(bool(len(ranks)) and ranks[0] < k)
        results = inputs.results(
            seeds=1,
            n_queries=len(truth.queries),
            n_gallery=len(gallery),
            ground_truth=settings.ground_truth,
            families={"instance retrieval": "distance"},
        )
        metrics = {"map": float(np.mean(aps)), "map_oxford": float(np.mean(oxford))}
        metrics |= {f"recall_at_{k}": float(np.mean(v)) for k, v in hits.items()}
        results.add("instance retrieval", "all", 0, metrics)
        if progress:
            progress(1)
        return results
