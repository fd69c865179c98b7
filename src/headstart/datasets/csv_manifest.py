"""CSV manifests: a header with `path,label` and optional `id`, `group`, `split` columns.

Relative paths are resolved against the CSV's folder. Labels are class names (or numbers);
an empty label marks an unlabelled item. Problems are reported by CSV line number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.datasets.csv_rows import read_csv_rows
from headstart.datasets.dataset import SPLITS, Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError, raise_problems

REQUIRED = ("path", "label")
OPTIONAL = ("id", "group", "split")


def _read_rows(source: Path) -> list[dict[str, str]]:
    return read_csv_rows(source, REQUIRED, "path,label[,id,group,split]")


def sort_labels(names: set[str]) -> list[str]:
    """Numeric labels sort as numbers, anything else alphabetically."""
    try:
        return sorted(names, key=lambda s: (float(s), s))
    except ValueError:
        return sorted(names)


@DATASETS.register("csv", "a CSV manifest: path,label[,id,group,split] (paths relative to it)")
def load_csv(path: str | Path, name: str | None = None) -> Dataset:
    """Read the manifest; every listed file must exist, or the run stops before any work."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"CSV manifest {source} does not exist")
    rows = _read_rows(source)
    if not rows:
        raise DataError(f"{source}: the manifest has a header but no rows")
    problems: list[str] = []
    seen: dict[str, int] = {}
    items, ids = [], []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        if not row.get("path"):
            problems.append(f"line {line}: empty path")
            continue
        file = Path(row["path"])
        file = file if file.is_absolute() else source.parent / file
        if not file.exists():
            problems.append(f"line {line}: file {row['path']!r} does not exist")
        if row.get("split") and row["split"] not in SPLITS:
            problems.append(f"line {line}: split {row['split']!r} is not one of {SPLITS}")
        item_id = row.get("id") or row["path"]
        if item_id in seen:
            problems.append(
                f"line {line}: duplicate id {item_id!r} (first on line {seen[item_id]})"
            )
        seen.setdefault(item_id, line)
        items.append(str(file))
        ids.append(item_id)
    raise_problems(source, problems)
    class_names = sort_labels({r["label"] for r in rows if r["label"]})
    index = {c: i for i, c in enumerate(class_names)}
    has = {c: any(r.get(c) for r in rows) for c in OPTIONAL}
    return Dataset(
        name=name or source.stem,
        items=items,
        labels=np.array([index[r["label"]] if r["label"] else -1 for r in rows]),
        class_names=class_names,
        ids=ids,
        split=np.array([r.get("split") or "train" for r in rows], object) if has["split"] else None,
        groups=np.array([r.get("group", "") for r in rows], object) if has["group"] else None,
        source=str(source.resolve()),
    )
