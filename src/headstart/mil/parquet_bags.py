"""Bags from Parquet: one row per instance with `bag`, `label` and `features` (a list of
floats) columns, and optional `group` and `instance_label`. Bags keep their first-appearance
order; a bag whose rows disagree on the label is an error that names it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from headstart.datasets.csv_manifest import sort_labels
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
    if table.num_rows == 0:
        raise DataError(f"{source}: no rows")
    for column in REQUIRED:
        nulls = np.flatnonzero(table.column(column).is_null().to_numpy(zero_copy_only=False))
        if len(nulls):
            raise DataError(f"{source}: row {nulls[0]} has no {column!r} ({len(nulls)} such rows)")
    bag_ids = np.asarray(table.column("bag").to_pylist(), dtype=object).astype(str)
    labels = np.asarray(table.column("label").to_pylist())
    class_names = None
    if not np.issubdtype(labels.dtype, np.integer):  # class names: index them in sorted order
        class_names = sort_labels({str(v) for v in labels})
        labels = np.array([class_names.index(str(v)) for v in labels])
    rows = table.column("features").to_pylist()
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise DataError(f"{source}: feature lists have different lengths {sorted(lengths)[:5]}")
    try:
        features = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"{source}: features must be lists of numbers ({error})") from error
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if len(bad):
        raise DataError(f"{source}: row {bad[0]} has NaN, infinite or missing features")
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
        **({"class_names": class_names} if class_names else {}),
    )
