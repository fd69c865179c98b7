"""Reading a bag store: what `headstart slides embed` writes, one headstart store of patch
vectors per slide (`stores/<slide>/`, row ids `x_y` = level-0 coordinates) and `bags.json`,
the record of every slide (its file, digest, resolution, patching, status), beside
CLAM/TRIDENT `.h5` copies. Slide labels come from a CSV (`labels.csv` in the store, or one
named); a labelled slide that was skipped, or is not in the store, is an error that says why.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from headstart.exceptions import DataError, raise_problems
from headstart.json_files import read_sealed_json
from headstart.mil.bags import Bags
from headstart.mil.slide_labels import read_slide_labels, slide_bags
from headstart.slides.reader import slide_id
from headstart.store import Store

BAGS_FILE = "bags.json"
FORMAT = "headstart-bags"


def is_bag_store(folder: str | Path) -> bool:
    return (Path(folder) / BAGS_FILE).is_file()


def read_bag_record(folder: str | Path) -> dict[str, Any]:
    """The bag store's record (sealed JSON: a hand edit is an error)."""
    folder = Path(folder)
    record = read_sealed_json(folder / BAGS_FILE, f"{folder} is not a bag store (no {BAGS_FILE})")
    if record.get("format") != FORMAT:
        raise DataError(f"{folder / BAGS_FILE} is not a headstart bag store record")
    return record


def slide_patches(folder: str | Path, slide: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """One embedded slide's (vectors (N, D), level-0 coords (N, 2)) from its store."""
    store = Store(Path(folder) / slide["store"])
    return store.vectors(), patch_coords(store.ids)


def patch_coords(ids: list[str]) -> np.ndarray:
    """Level-0 (x, y) of patches from their store ids (`x_y`)."""
    return np.array([[int(v) for v in i.split("_")] for i in ids], dtype=np.int64).reshape(-1, 2)


def read_bag_store(folder: str | Path, labels_csv: str | Path | None = None) -> Bags:
    """Bags (with patch coordinates) of the slides listed in the label file, in its order."""
    folder = Path(folder)
    record = read_bag_record(folder)
    labels_csv = Path(labels_csv) if labels_csv else folder / "labels.csv"
    if not labels_csv.is_file():
        raise DataError(
            f"bag store {folder} has no labels.csv: give the slide labels "
            "(--labels FILE with slide_id,label[,patient])"
        )
    slides = {s["id"]: s for s in record["slides"]}
    problems: list[str] = []
    rows = [replace(r, slide=slide_id(r.slide)) for r in read_slide_labels(labels_csv, problems)]
    for row in rows:
        slide = slides.get(row.slide)
        if slide is None:
            close = difflib.get_close_matches(row.slide, slides, n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"line {row.line}: slide {row.slide!r} is not in bag store {folder}{hint}"
            )
        elif slide["status"] != "done":
            problems.append(
                f"line {row.line}: slide {row.slide!r} was skipped when embedding: "
                f"{slide['reason']}"
            )
    raise_problems(labels_csv, problems)
    bags, coords = [], []
    for row in rows:
        vectors, where = slide_patches(folder, slides[row.slide])
        bags.append(vectors)
        coords.append(where)
    return slide_bags(rows, rows, bags, coords, folder.name)
