"""Bags from Parquet: one row per instance with `bag`, `label` and `features` (a list of
floats) columns, and optional `group` and `instance_label`. Bags keep their first-appearance
order; a bag whose rows disagree on the label is an error that names it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from headstart.exceptions import DataError
from headstart.mil.bags import Bags

REQUIRED = ("bag", "label", "features")


def read_parquet_bags(path: str | Path) -> Bags:
    """Read and check a Parquet bag file (never unpickled: Parquet holds plain columns)."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"bag file not found: {source}")
    table = pq.read_table(source)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; expected {list(REQUIRED)}")
    bag_ids = np.asarray(table.column("bag").to_pylist(), dtype=object).astype(str)
    labels = np.asarray(table.column("label").to_pylist())
    rows = table.column("features").to_pylist()
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise DataError(f"{source}: feature lists have different lengths {sorted(lengths)[:5]}")
    features = np.asarray(rows, dtype=np.float32)
    _, first = np.unique(bag_ids, return_index=True)
    order = [str(b) for b in bag_ids[np.sort(first)]]
    members = [np.flatnonzero(bag_ids == b) for b in order]
    bag_labels = []
    for bag, index in zip(order, members, strict=True):
        values = set(labels[index].tolist())
        if len(values) != 1:
            raise DataError(f"{source}: bag {bag!r} has rows with labels {sorted(values)}")
        bag_labels.append(values.pop())
    index = np.concatenate(members)
    optional = {}
    if "group" in table.column_names:
        groups = np.asarray(table.column("group").to_pylist(), dtype=object)
        optional["groups"] = np.array([groups[m[0]] for m in members], dtype=object)
    if "instance_label" in table.column_names:
        optional["instance_labels"] = np.asarray(table.column("instance_label").to_pylist())[index]
    return Bags(
        features[index],
        np.concatenate([[0], np.cumsum([len(m) for m in members])]),
        np.asarray(bag_labels),
        list(order),
        name=source.stem,
        **optional,
    )
