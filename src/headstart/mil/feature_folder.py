"""Whole-slide bags from a CLAM / TRIDENT feature folder: one `<slide>.h5` per slide with a
`features` dataset (patches × dims) and usually `coords` (CLAM keeps them in `h5_files/`), plus
a CSV of slide labels (`slide_id,label[,patient]`, see `slide_labels`).

Every problem (a slide listed twice or without its file, a file that is not HDF5 or has no
`features`, dimensions that disagree, an empty slide, non-finite features) is collected and
reported at once, naming the file or line, before any training starts. h5 files hold
arrays only; nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.exceptions import DataError, raise_problems
from headstart.mil.bags import Bags
from headstart.mil.slide_labels import read_slide_labels, slide_bags
from headstart.slides.h5_files import read_h5
from headstart.slides.reader import slide_id


def read_feature_folder(folder: str | Path, labels_csv: str | Path) -> Bags:
    """Bags of patch features, one per slide listed in `labels_csv`, in its order."""
    folder = Path(folder)
    if not any(folder.glob("*.h5")) and (folder / "h5_files").is_dir():
        folder = folder / "h5_files"  # CLAM's FEATURES_DIRECTORY layout
    problems: list[str] = []
    rows = read_slide_labels(labels_csv, problems)
    bags, coords, kept, dims = [], [], [], set()
    for row in rows:
        path = folder / f"{row.slide}.h5"
        if not path.is_file():  # a label file may name slides with their suffix
            path = folder / f"{slide_id(row.slide)}.h5"
        if not path.is_file():
            problems.append(f"line {row.line}: {path} does not exist")
            continue
        try:
            features, where, _ = read_h5(path)
        except DataError as error:
            problems.append(str(error))
            continue
        bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
        if len(bad):
            problems.append(
                f"{path}: patch row {bad[0]} holds NaN or infinite values ({len(bad)} such rows)"
            )
            continue
        dims.add(features.shape[1])
        bags.append(features)
        coords.append(where)
        kept.append(row)
    if len(dims) > 1:
        problems.append(f"slides disagree on the feature dimension: {sorted(dims)}")
    raise_problems(folder, problems)
    return slide_bags(rows, kept, bags, coords, folder.name)
