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
    """Image files under a class folder, sub-folders included. Symbolic links to folders are
    followed here as they are for class folders (one rule); a link back to a folder already
    read is skipped, so a loop lists nothing twice and ends."""
    files: list[Path] = []
    seen = {os.path.realpath(folder)}
    for current, dirs, names in os.walk(folder, onerror=_raise_unreadable, followlinks=True):
        kept = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(current, d))
            if real not in seen:
                seen.add(real)
                kept.append(d)
        dirs[:] = kept
        files += [
            Path(current) / n
            for n in sorted(names)
            if not n.startswith(".") and n.lower().endswith(extensions)
        ]
    return files


def list_image_files(folder: str | Path) -> list[Path]:
    """Every image file under `folder` (sub-folders included), sorted by folder then name."""
    return _image_files(Path(folder), IMAGE_EXTENSIONS)


def _loops_back(folder: Path, root: Path) -> bool:
    """A folder (typically a symlink) that resolves to the root or one of its ancestors:
    reading it would list the root's classes again as a class of their own."""
    target, base = folder.resolve(), root.resolve()
    return target == base or target in base.parents


def _loose_images(
    root: Path, extensions: tuple[str, ...], split_layout: bool, top: list[Path]
) -> list[str]:
    """Image files directly in the root (or in a split folder): they belong to no class."""
    folders = [root, *top] if split_layout else [root]
    return [
        (f.relative_to(root)).as_posix()
        for folder in folders
        for f in sorted(folder.iterdir())
        if f.is_file() and not f.name.startswith(".") and f.name.lower().endswith(extensions)
    ]


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
    top = [d for d in _subdirs(root) if not _loops_back(d, root)]
    named_splits = [d.name for d in top if d.name in SPLITS]
    split_layout = bool(top) and len(named_splits) == len(top)
    if named_splits and not split_layout:
        others = [d.name for d in top if d.name not in SPLITS]
        raise DataError(
            f"image folder {root}: top-level folders {named_splits} are split names but "
            f"{others[:5]} are not; use root/<split>/<class>/ with only {', '.join(SPLITS)}, "
            "or root/<class>/ with no split folders"
        )
    groups = [(d.name, _subdirs(d)) for d in top] if split_layout else [(None, top)]
    groups = [
        (split, [c for c in classes if not _loops_back(c, root)]) for split, classes in groups
    ]
    class_names = sorted({c.name for _, classes in groups for c in classes})
    if not class_names:
        raise DataError(f"image folder {root} has no class sub-folders (expected root/<class>/)")
    loose = _loose_images(root, tuple(e.lower() for e in extensions), split_layout, top)
    if loose:  # images outside any class folder would be dropped without a word
        raise DataError(
            f"image folder {root}: {loose[:5]} lie outside any class folder and would have "
            "no label; move them into root/<class>/ (or remove them)"
        )
    index = {c: i for i, c in enumerate(class_names)}
    items: list[str] = []
    labels: list[int] = []
    splits: list[str | None] = []
    empty = []
    for split, classes in groups:
        for class_dir in classes:
            files = _image_files(class_dir, tuple(e.lower() for e in extensions))
            if not files:
                empty.append(class_dir.relative_to(root).as_posix())
            items += [str(f) for f in files]
            labels += [index[class_dir.name]] * len(files)
            splits += [split] * len(files)
    if not items:
        raise DataError(f"image folder {root} has no files ending in {', '.join(extensions)}")
    if empty:  # an empty class would stay in the label space with no items
        raise DataError(
            f"image folder {root}: class folder(s) {empty[:5]} hold no image files; add "
            "images or remove the folder(s)"
        )
    return Dataset(
        name=name or root.name,
        items=items,
        labels=np.array(labels),
        class_names=class_names,
        ids=[Path(p).relative_to(root).as_posix() for p in items],
        split=np.array(splits, dtype=object) if split_layout else None,
        source=str(root.resolve()),
    )
