"""Slide labels: a CSV of `slide_id,label` and, optionally, the patient (or case) each slide
belongs to, so cross-validation never puts one patient's slides on both sides. The patient
column may be named group, patient, patient_id or case_id (CLAM's name)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headstart.datasets.csv_manifest import sort_labels
from headstart.datasets.csv_rows import read_csv_rows
from headstart.exceptions import DataError, raise_problems
from headstart.mil.bags import Bags

GROUP_COLUMNS = ("group", "patient", "patient_id", "case_id")
EXPECTED = "slide_id,label[,patient]"


@dataclass(frozen=True)
class SlideLabel:
    slide: str
    label: str
    group: str  # the patient; the slide itself when the file names none
    line: int


def read_slide_labels(path: str | Path, problems: list[str] | None = None) -> list[SlideLabel]:
    """Every usable row of the label file. Problems (each named by its line) are raised at
    once, or added to `problems` for a caller that reports them with its own."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"slide label file {path} does not exist")
    rows = read_csv_rows(path, ("slide_id", "label"), EXPECTED)
    if not rows:
        raise DataError(f"{path}: expected a header with {EXPECTED} and rows")
    columns = [c for c in GROUP_COLUMNS if c in rows[0]]
    if len(columns) > 1:
        raise DataError(f"{path}: give the patient in one column, not {columns}")
    found: list[str] = []
    labels, seen = [], {}
    for line, row in enumerate(rows, start=2):
        slide, label = row.get("slide_id", ""), row.get("label", "")
        if not slide or not label:
            found.append(f"line {line}: empty slide_id or label")
            continue
        if slide in seen:  # one slide twice would become two bags (or two labels)
            found.append(
                f"line {line}: slide {slide!r} is listed again (first on line {seen[slide]})"
            )
            continue
        seen[slide] = line
        group = (row.get(columns[0]) if columns else "") or slide
        labels.append(SlideLabel(slide, label, group, line))
    if problems is None:
        raise_problems(path, found)
    else:
        problems += found
    return labels


def slide_bags(
    rows: list[SlideLabel],
    kept: list[SlideLabel],
    features: list[np.ndarray],
    coords: list[np.ndarray | None],
    name: str,
) -> Bags:
    """Bags of the `kept` slides (classes named from all `rows`, in sorted order), grouped by
    patient, with patch coordinates when every slide has them."""
    class_names = sort_labels({row.label for row in rows})
    index = {label: k for k, label in enumerate(class_names)}
    return Bags.from_list(
        features,
        [index[row.label] for row in kept],
        [row.slide for row in kept],
        name=name,
        groups=np.array([row.group for row in kept], dtype=object),
        class_names=class_names,
        coords=None if any(c is None for c in coords) else np.concatenate(coords),
    )
