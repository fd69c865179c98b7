"""Image folders: `root/<class>/*.jpg`, or `root/<split>/<class>/*.jpg` (train/val/test)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from headstart.datasets.dataset import SPLITS, Dataset
from headstart.datasets.registry import DATASETS
from headstart.exceptions import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def _subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders of `folder`, sorted; unreadable folders stop the run with their path."""
    try:
        with os.scandir(folder) as entries:
            return sorted(
                Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")
            )
    except PermissionError as error:
        raise DataError(f"cannot read directory {folder}: permission denied") from error
    except NotADirectoryError as error:
        raise DataError(f"{folder} is not a directory") from error


def _image_files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for current, dirs, names in os.walk(folder, onerror=_raise_unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [
            Path(current) / n
            for n in sorted(names)
            if not n.startswith(".") and n.lower().endswith(extensions)
        ]
    return files


def _raise_unreadable(error: OSError) -> None:
    raise DataError(f"cannot read directory {error.filename}: {error.strerror}") from error


@DATASETS.register("image-folder", "images in root/<class>/ (optionally root/<split>/<class>/)")
def load_image_folder(
    path: str | Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS, name: str | None = None
) -> Dataset:
    """One class per sub-folder, named after it; ids are paths relative to `path`."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"image folder {root} does not exist")
    top = _subdirs(root)
    split_layout = bool(top) and all(d.name in SPLITS for d in top)
    groups = [(d.name, _subdirs(d)) for d in top] if split_layout else [(None, top)]
    class_names = sorted({c.name for _, classes in groups for c in classes})
    if not class_names:
        raise DataError(f"image folder {root} has no class sub-folders (expected root/<class>/)")
    index = {c: i for i, c in enumerate(class_names)}
    items: list[str] = []
    labels: list[int] = []
    splits: list[str | None] = []
    for split, classes in groups:
        for class_dir in classes:
            files = _image_files(class_dir, tuple(e.lower() for e in extensions))
            items += [str(f) for f in files]
            labels += [index[class_dir.name]] * len(files)
            splits += [split] * len(files)
    if not items:
        raise DataError(f"image folder {root} has no files ending in {', '.join(extensions)}")
    return Dataset(
        name=name or root.name,
        items=items,
        labels=np.array(labels),
        class_names=class_names,
        ids=[Path(p).relative_to(root).as_posix() for p in items],
        split=np.array(splits, dtype=object) if split_layout else None,
        source=str(root.resolve()),
    )
