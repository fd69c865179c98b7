"""Which item files are read at all: regular files under a size cap. A device (`/dev/zero`),
a FIFO or a socket linked into a data folder would block or never end a read, so such an
item is skipped and listed with the reason instead."""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 1 << 30  # 1 GiB per item file: far above any photo or tile, below a device's


def unreadable_reason(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> str | None:
    """Why the file at `path` (links followed) is not read, or None when it may be."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "file not found"
    except OSError as error:
        return f"cannot stat the file: {error.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return f"not a regular file ({_kind(info.st_mode)}); only regular files are read"
    if info.st_size > max_bytes:
        return f"{info.st_size:,} bytes exceeds the per-file cap of {max_bytes:,}"
    return None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"
