"""Texts in a CSV file: a header with `text` and optional `label`, `id`, `split`, `group`.

Labels are class names (or numbers); an empty label marks an unlabelled text. Problems are
reported by CSV line number, all at once, before any work starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.datasets.csv_manifest import sort_labels
from headstart.datasets.csv_rows import read_csv_rows
from headstart.datasets.dataset import SPLITS, Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError, raise_problems

COLUMNS = ("text", "label", "id", "split", "group")


def read_text_rows(source: Path) -> list[dict[str, str]]:
    """Rows of the CSV as dicts; the header must name a `text` column."""
    rows = read_csv_rows(source, ("text",), "text[,label,id,split,group]", strip=False)
    return [{k: v for k, v in row.items() if k in COLUMNS} for row in rows]


@DATASETS.register("text-csv", "texts in a CSV: text[,label,id,split,group]")
def load_text_csv(path: str | Path, name: str | None = None) -> Dataset:
    """Read every row; a bad split or a duplicate id stops the load. An empty text is kept:
    the encoder skips it and lists it in failures.csv, as an empty image is."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"text CSV {source} does not exist")
    rows = read_text_rows(source)
    if not rows:
        raise DataError(f"{source}: the CSV has a header but no rows")
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        if row.get("split") and row["split"].strip() not in SPLITS:
            problems.append(f"line {line}: split {row['split']!r} is not one of {SPLITS}")
        item_id = row.get("id", "").strip() or str(line - 2)
        if item_id in seen:
            problems.append(
                f"line {line}: duplicate id {item_id!r} (first on line {seen[item_id]})"
            )
        seen.setdefault(item_id, line)
    raise_problems(source, problems)
    labels = [row.get("label", "").strip() for row in rows]
    class_names = sort_labels({label for label in labels if label})
    index = {c: i for i, c in enumerate(class_names)}
    has_split = any(row.get("split", "").strip() for row in rows)
    has_group = any(row.get("group", "").strip() for row in rows)
    return Dataset(
        name=name or source.stem,
        items=[row["text"] for row in rows],
        labels=np.array([index[label] if label else -1 for label in labels]),
        class_names=class_names,
        ids=list(seen),
        modality="text",
        split=np.array([r.get("split", "").strip() or "train" for r in rows], object)
        if has_split
        else None,
        groups=np.array([r.get("group", "").strip() for r in rows], object) if has_group else None,
        source=str(source.resolve()),
    )
