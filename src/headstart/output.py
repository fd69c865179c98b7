"""Where results may be written, and how: paths checked before any work (so a long run never
ends in a traceback because its output folder is under /proc, read-only or not a folder), one
writer per folder at a time (an OS lock beside it), and new folders written beside and renamed
into place, so no reader ever sees half of one and a refused write changes nothing."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

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


def beside(folder: str | Path, suffix: str) -> Path:
    """The hidden path `.NAME<suffix>` next to `folder` (same filesystem, so renames are atomic)."""
    folder = Path(os.path.abspath(folder))
    return folder.with_name(f".{folder.name}{suffix}")


class FolderLock:
    """The exclusive OS lock of one output folder, held by one writer at a time.

    The lock file, `.NAME.lock`, lives beside the folder so that it outlives the folder's
    replacement; the kernel releases it when its holder ends, even by SIGKILL. The holder
    writes its pid and command into it, so a refused writer can say who holds the folder.
    """

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.folder, self.what = Path(folder), what
        self.path = beside(folder, ".lock")
        self._lock = FileLock(self.path, timeout=0, thread_local=False)

    def acquire(self) -> FolderLock:
        """Take the lock now, or raise a `DataError` naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise DataError(
                f"{self.what} {self.folder} is being written by {self.holder()}; wait for it "
                "to finish, or write to another folder"
            ) from None
        command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        since = datetime.now(UTC).isoformat(timespec="seconds")
        self.path.write_text(json.dumps({"pid": os.getpid(), "command": command, "since": since}))
        return self

    def holder(self) -> str:
        """Who holds the lock, as its holder recorded it."""
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            return f"process {record['pid']} ({record['command']}, since {record['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_new_folder(
    folder: str | Path,
    what: str,
    overwrite: bool = False,
    ours: Callable[[Path], bool] | None = None,
) -> Path:
    """`folder` as a Path if `what` (e.g. "models") may be written there: it does not exist,
    or — given `overwrite` — it is one of them as `ours` recognises. Anything else is
    refused with a `DataError`, and left as it is."""
    folder = check_writable(folder, f"folder of {what}")
    if not (folder.exists() or folder.is_symlink()):
        return folder
    if ours is None:
        raise DataError(f"{folder} exists already; {what} are written to a new folder")
    if not folder.is_dir() or not ours(folder):
        raise DataError(
            f"{folder} exists already and is not a folder of headstart {what}; {what} are "
            "written to a new folder (nothing in it was changed)"
        )
    if not overwrite:
        raise DataError(
            f"{folder} holds saved {what} already; pass --overwrite to replace that folder "
            "(once the new one is complete), or choose a new folder"
        )
    return folder


def check_before_work(folder: str | Path, what: str) -> Path:
    """`check_new_folder` plus a look at the folder's lock, for callers with long work to do
    before they write: a folder that exists or that another process is writing is refused
    now, not after the work (the lock is taken again, for real, when writing)."""
    folder = check_new_folder(folder, what)
    FolderLock(folder, f"folder of {what}").acquire().release()
    return folder


def recover_folder(folder: str | Path) -> None:
    """Finish or undo a replacement of `folder` that a killed run left half done: the old
    folder set aside (`.NAME.previous`) is put back if nothing took its place."""
    previous = beside(folder, ".previous")
    if previous.exists() or previous.is_symlink():
        if Path(folder).exists():
            remove(previous)
        else:
            previous.rename(folder)


def move_into_place(staging: Path, folder: str | Path) -> None:
    """Rename the finished `staging` folder to `folder`. A folder already there is set aside
    first, put back if the rename fails, and deleted once the new one is in place."""
    folder, previous = Path(folder), beside(folder, ".previous")
    if folder.exists() or folder.is_symlink():
        remove(previous)
        folder.rename(previous)
    try:
        staging.rename(folder)
    except BaseException:
        recover_folder(folder)
        raise
    remove(previous)


def remove(path: Path) -> None:
    """Delete a file, link or folder tree that headstart wrote, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def no_space(error: BaseException) -> bool:
    """Whether `error` says the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def new_folder(
    folder: str | Path,
    what: str,
    overwrite: bool = False,
    ours: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """A hidden sibling of `folder` to write `what` into, renamed to `folder` when the block
    ends without error. `folder` is locked from the start (a second writer is refused) and
    checked by `check_new_folder`; an interrupted write leaves `folder` as it was."""
    folder = check_writable(folder, f"folder of {what}")
    with FolderLock(folder, f"folder of {what}"):
        recover_folder(folder)
        check_new_folder(folder, what, overwrite, ours)
        temporary = beside(folder, ".partial")
        remove(temporary)  # a run killed while writing left this
        temporary.mkdir(parents=True)
        try:
            yield temporary
            move_into_place(temporary, folder)
        except BaseException as error:
            remove(temporary)
            if no_space(error):
                raise DataError(
                    f"no space left on the device of {folder} while writing {what}; free some "
                    "space there (or choose another folder) and run the command again"
                ) from error
            raise


def cache_root() -> Path:
    """Where stores go when no output folder is given (`$HEADSTART_CACHE` or ~/.cache)."""
    return Path(os.environ.get("HEADSTART_CACHE") or Path.home() / ".cache" / "headstart")
