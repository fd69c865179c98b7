"""Whole-slide bags from a CLAM / TRIDENT feature folder: one `<slide>.h5` per slide with a
`features` dataset (patches × dims) and usually `coords`, plus a CSV of slide labels
(`slide_id,label[,group]`, e.g. group = patient for grouped cross-validation).

Every problem (a slide listed twice or without its file, a file that is not HDF5 or has no
`features`, dimensions that disagree, an empty slide, non-finite features) is collected and
reported at once, naming the file or line, before any training starts. h5 files hold
arrays only; nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.datasets.csv_manifest import sort_labels
from headstart.datasets.csv_rows import read_csv_rows
from headstart.exceptions import DataError, MissingExtraError, raise_problems
from headstart.mil.bags import Bags


def read_feature_folder(folder: str | Path, labels_csv: str | Path) -> Bags:
    """Bags of patch features, one per slide listed in `labels_csv`, in its order."""
    try:
        import h5py
    except ImportError as error:
        raise MissingExtraError(
            "reading .h5 feature files needs h5py: pip install 'headstart[mil]'"
        ) from error
    folder, labels_csv = Path(folder), Path(labels_csv)
    if not labels_csv.is_file():
        raise DataError(f"slide label file {labels_csv} does not exist")
    rows = read_csv_rows(labels_csv, ("slide_id", "label"), "slide_id,label[,group]")
    if not rows:
        raise DataError(f"{labels_csv}: expected a header with slide_id,label[,group] and rows")
    problems, bags, dims, seen = [], [], set(), {}
    for line, row in enumerate(rows, start=2):
        slide, label = (row.get("slide_id") or "").strip(), (row.get("label") or "").strip()
        if not slide or not label:
            problems.append(f"line {line}: empty slide_id or label")
            continue
        if slide in seen:  # the same slide twice would become two bags (or two labels)
            problems.append(
                f"line {line}: slide {slide!r} is listed again (first on line {seen[slide]})"
            )
            continue
        seen[slide] = line
        path = folder / f"{slide}.h5"
        if not path.is_file():
            problems.append(f"line {line}: {path} does not exist")
            continue
        try:
            with h5py.File(path, "r") as h5:
                if "features" not in h5:
                    problems.append(f"{path} has no 'features' dataset (found {sorted(h5)})")
                    continue
                features = np.asarray(h5["features"], dtype=np.float32)
        except OSError as error:  # truncated or not HDF5 at all
            problems.append(f"{path} cannot be read as HDF5: {error}")
            continue
        features = features.reshape(-1, features.shape[-1]) if features.ndim == 3 else features
        if features.ndim != 2 or len(features) == 0:
            problems.append(f"{path}: features of shape {features.shape} are not (patches, dims)")
            continue
        bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
        if len(bad):
            problems.append(
                f"{path}: patch row {bad[0]} holds NaN or infinite values ({len(bad)} such rows)"
            )
            continue
        dims.add(features.shape[1])
        bags.append(features)
    if len(dims) > 1:
        problems.append(f"slides disagree on the feature dimension: {sorted(dims)}")
    raise_problems(folder, problems)
    class_names = sort_labels({row["label"] for row in rows})
    index = {name: k for k, name in enumerate(class_names)}
    return Bags.from_list(
        bags,
        [index[row["label"]] for row in rows],
        [row["slide_id"] for row in rows],
        name=folder.name,
        groups=np.array([row.get("group") or row["slide_id"] for row in rows], dtype=object),
        class_names=class_names,
    )
