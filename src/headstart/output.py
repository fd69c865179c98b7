"""Where results may be written: checked before any work, so a long run never ends in a
traceback because its output folder is under /proc, read-only or not a folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from headstart.exceptions import DataError

PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


def check_writable(path: str | Path, what: str = "output") -> Path:
    """`path` (a folder or file to be created or replaced) as a Path, or a `DataError`
    naming it and why it cannot be written."""
    path = Path(path).absolute()
    text = path.as_posix()
    if any(text == root or text.startswith(root + "/") for root in PSEUDO_FILESYSTEMS):
        raise DataError(f"{what} {path} is on a system pseudo-filesystem; choose another path")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != path and not existing.is_dir():
        raise DataError(f"{what} {path}: {existing} is a file, not a folder")
    if not os.access(existing if existing.is_dir() else existing.parent, os.W_OK | os.X_OK):
        raise DataError(f"{what} {path}: {existing} is not writable")
    return path


def check_outputs(*paths: str | Path | None) -> None:
    """`check_writable` for every given output path (None: no output asked for)."""
    for path in paths:
        if path is not None:
            check_writable(path)


@contextmanager
def new_folder(folder: str | Path, what: str) -> Iterator[Path]:
    """A hidden sibling of `folder` to write into, renamed to `folder` when the block ends
    without error: an interrupted write leaves no half-written `folder` behind."""
    folder = Path(folder)
    if folder.exists():
        raise DataError(f"{folder} exists already; {what} are written to a new folder")
    temporary = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(temporary, ignore_errors=True)  # a run killed while writing left this
    temporary.mkdir(parents=True)
    yield temporary
    temporary.rename(folder)
