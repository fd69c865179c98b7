"""`StoreWriter`: creates or resumes a store folder and writes Parquet shards atomically.

A shard is written to a temporary name and renamed into place; then the manifest is rewritten
(also atomically). A killed run therefore leaves only finished shards plus stray temp files,
which the next open removes. Resuming verifies each finished shard's checksum. A writer holds
its folder's lock until it finishes (a second writer is refused), and a store replacing
another one (`overwrite`) is written beside it and renamed into place once complete.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headstart.cards import file_sha256
from headstart.exceptions import StoreError
from headstart.filenames import printable
from headstart.output import (
    FolderLock,
    beside,
    check_writable,
    move_into_place,
    no_space,
    recover_folder,
    remove,
)
from headstart.store.manifest import (
    FAILURES,
    MANIFEST,
    SHARD_DIR,
    Manifest,
    ShardRecord,
    vector_schema,
    views_schema,
    write_atomic,
)

ROW_GROUP_ROWS = 8192


def shard_table(
    dim: int,
    ids: list[str],
    items: np.ndarray,
    labels: np.ndarray,
    split: list[str | None] | None,
    groups: list[str | None] | None,
    vectors: np.ndarray,
) -> pa.Table:
    """Arrow table in the store schema; the vector column wraps `vectors` without copying."""
    n = len(ids)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    columns = [
        pa.array(ids, pa.string()),
        pa.array(np.asarray(items, np.int64)),
        pa.array(np.asarray(labels, np.int64)),
        pa.array(split if split is not None else [None] * n, pa.string()),
        pa.array(groups if groups is not None else [None] * n, pa.string()),
        pa.FixedSizeListArray.from_arrays(flat, dim),
    ]
    return pa.Table.from_arrays(columns, schema=vector_schema(dim))


def views_table(dim: int, items: np.ndarray, views: np.ndarray) -> pa.Table:
    """Views 1..n−1 of each item as rows (item, view, vector); `views` is (m, n − 1, dim)."""
    m, extra = views.shape[:2]
    flat = pa.array(np.ascontiguousarray(views, dtype=np.float32).reshape(-1))
    columns = [
        pa.array(np.repeat(np.asarray(items, np.int64), extra)),
        pa.array(np.tile(np.arange(1, extra + 1, dtype=np.int32), m)),
        pa.FixedSizeListArray.from_arrays(flat, dim),
    ]
    return pa.Table.from_arrays(columns, schema=views_schema(dim))


class StoreWriter:
    """Owns one store folder while a run writes it: `root` is where the shards go, `folder`
    where the store ends up (the same folder unless a store there is being replaced)."""

    def __init__(
        self,
        root: Path,
        manifest: Manifest,
        folder: Path | None = None,
        lock: FolderLock | None = None,
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.folder = folder or root
        self.lock = lock

    @classmethod
    def open(cls, root: str | Path, manifest: Manifest, overwrite: bool = False) -> StoreWriter:
        """Start `manifest`'s store in `root`, or resume the one already there with the same key.

        A folder holding another store (different key) is refused unless `overwrite`, and
        then replaced only once the new store is complete; a non-empty folder that is not a
        store, or a store folder holding other files, is never replaced. The folder stays
        locked until `finish` or `close`: another writer meanwhile is refused, named.
        """
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} exists and is not a directory")
        check_writable(root, "store folder")
        lock = FolderLock(root, "store folder").acquire()
        try:
            recover_folder(root)
            target = _target(root, manifest, overwrite)
            writer = cls.start(target, manifest, root, lock)
        except BaseException:
            lock.release()
            raise
        return writer

    @classmethod
    def start(
        cls,
        target: Path,
        manifest: Manifest,
        folder: Path | None = None,
        lock: FolderLock | None = None,
    ) -> StoreWriter:
        """A writer of `target`, a folder its caller holds: empty (a new store is started)
        or holding this manifest's store (resumed: its intact shards are kept)."""
        target.mkdir(parents=True, exist_ok=True)
        (target / SHARD_DIR).mkdir(exist_ok=True)
        if (target / MANIFEST).exists():
            existing = Manifest.read(target)
            if existing.key != manifest.key:
                raise StoreError(f"{target} holds another store (key {existing.key[:12]}…)")
            intact = _verified(target, existing.shards)
            complete = existing.complete and len(intact) == len(existing.shards)
            manifest = replace(existing, shards=intact, complete=complete)
        _remove_temp_files(target)
        writer = cls(target, manifest, folder, lock)
        with writer._space("starting the store"):
            manifest.write(target)
        return writer

    def close(self) -> None:
        """Let other writers have the folder (also done by `finish`)."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pending_shards(self) -> list[int]:
        """Indices of shards not yet (completely) written."""
        return [i for i in range(self.manifest.n_shards) if len(self.remaining_range(i))]

    def shard_range(self, index: int) -> range:
        """Dataset item positions covered by shard `index`."""
        size = self.manifest.shard_size
        return range(index * size, min((index + 1) * size, self.manifest.n_items))

    def remaining_range(self, index: int) -> range:
        """The positions of shard `index` that no written part covers yet."""
        span = self.shard_range(index)
        done = sum(s.n_items for s in self.manifest.shards if s.index == index)
        return range(span.start + done, span.stop)

    def write_arrays(
        self,
        vectors: np.ndarray,
        ids: list[str],
        labels: np.ndarray,
        split: Sequence[Any] | None = None,
        groups: Sequence[Any] | None = None,
    ) -> Manifest:
        """Write every pending shard from in-memory rows (row i is item i), then finish."""
        for index in self.pending_shards():
            span = self.shard_range(index)
            part = slice(span.start, span.stop)
            table = shard_table(
                vectors.shape[1],
                ids[part],
                np.arange(span.start, span.stop),
                labels[part],
                _as_text(split, part),
                _as_text(groups, part),
                np.asarray(vectors[part], dtype=np.float32),
            )
            self.write_shard(index, table)
        return self.finish()

    def write_shard(
        self,
        index: int,
        table: pa.Table,
        failures: list[dict[str, str]] | None = None,
        views: pa.Table | None = None,
        n_items: int | None = None,
    ) -> ShardRecord:
        """Write the next part of shard `index` — its next `n_items` positions (default: all
        that remain) — and its augmented `views` (first), atomically, and record it."""
        with self._space(f"writing shard {index}"):
            return self._write_shard(index, table, failures, views, n_items)

    def _write_shard(
        self,
        index: int,
        table: pa.Table,
        failures: list[dict[str, str]] | None,
        views: pa.Table | None,
        n_items: int | None,
    ) -> ShardRecord:
        span = self.remaining_range(index)
        n_items = len(span) if n_items is None else n_items
        part = sum(1 for s in self.manifest.shards if s.index == index)
        stem = f"{index:05d}" if part == 0 else f"{index:05d}-{part:03d}"
        views_name = f"{SHARD_DIR}/views-{stem}.parquet" if views is not None else ""
        if views is not None:
            self._write_parquet(views, self.root / views_name)
        name = f"{SHARD_DIR}/shard-{stem}.parquet"
        final = self.root / name
        self._write_parquet(table, final, use_dictionary=["split", "group"])
        record = ShardRecord(
            index=index,
            part=part,
            file=name,
            first_item=span.start,
            n_items=n_items,
            rows=table.num_rows,
            sha256=file_sha256(final),
            failures=failures or [],
            views_file=views_name,
            views_sha256=file_sha256(self.root / views_name) if views_name else "",
            view_rows=views.num_rows if views is not None else 0,
        )
        shards = [*self.manifest.shards, record]
        self.manifest.shards = sorted(shards, key=lambda s: (s.index, s.part))
        self.manifest.write(self.root)
        return record

    @staticmethod
    def _write_parquet(table: pa.Table, final: Path, use_dictionary: Any = False) -> None:
        """Write to a temporary name, then rename into place; vectors stay uncompressed."""
        temp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        try:
            pq.write_table(
                table,
                temp,
                row_group_size=ROW_GROUP_ROWS,
                compression={
                    name: "none" if name == "vector" else "zstd" for name in table.schema.names
                },
                use_dictionary=use_dictionary,
                write_statistics=False,
            )
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)  # a full disk leaves half a file
            raise

    @contextmanager
    def _space(self, doing: str) -> Iterator[None]:
        """Run one write step. A failure lets other writers have the folder (the store resumes
        from what was written), and a full disk becomes a `StoreError` naming the folder and
        the space still needed (remaining items × dim × 4 bytes, times the views)."""
        try:
            yield
        except BaseException as error:
            self.close()
            if not no_space(error):
                raise
            done = sum(s.n_items for s in self.manifest.shards)
            left, views = self.manifest.n_items - done, int(self.manifest.views.get("views", 1))
            needed = left * self.manifest.dim * 4 * views
            times = f" × {views} views" if views > 1 else ""
            resumes = f": it resumes after the {done:,} items already written" if self.lock else ""
            raise StoreError(
                f"no space left on the device of store folder {self.folder} while {doing}: "
                f"the store needs about {needed / 1e6:,.1f} MB more ({left:,} items × "
                f"{self.manifest.dim} × 4 bytes{times}); free that much there and rerun the same "
                f"command{resumes}"
            ) from error

    def finish(self) -> Manifest:
        """Write the failures file, mark the store complete, move it into its folder (when it
        replaces another store) and let other writers have the folder."""
        if self.pending_shards():
            raise StoreError(
                f"{self.root}: cannot finish, shards {self.pending_shards()[:5]} are not written"
            )
        buffer = io.StringIO()
        fields = ["id", "item", "path", "reason"]
        out = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        out.writeheader()
        out.writerows(self.manifest.failures)
        with self._space("finishing the store"):
            write_atomic(self.root / FAILURES, buffer.getvalue().encode())
            self.manifest.complete = True
            self.manifest.write(self.root)
            if self.root != self.folder:
                move_into_place(self.root, self.folder)
                self.root = self.folder
        self.close()
        return self.manifest


def _verified(root: Path, shards: list[ShardRecord]) -> list[ShardRecord]:
    """Finished shards whose files are present and match their checksums (others are redone)."""

    def intact(file: str, sha256: str) -> bool:
        return (root / file).is_file() and file_sha256(root / file) == sha256

    kept, broken = [], set()  # a shard's parts after a broken one are redone with it
    for s in sorted(shards, key=lambda s: (s.index, s.part)):
        good = intact(s.file, s.sha256) and (
            not s.views_file or intact(s.views_file, s.views_sha256)
        )
        if good and s.index not in broken:
            kept.append(s)
        else:
            broken.add(s.index)
    return kept


def _as_text(values: Sequence[Any] | None, part: slice) -> list[str] | None:
    return None if values is None else [str(v) for v in values[part]]


def _remove_temp_files(root: Path) -> None:
    for folder in (root, root / SHARD_DIR):
        for path in folder.glob(".*.tmp-*"):
            path.unlink(missing_ok=True)


STORE_ENTRIES = {MANIFEST, FAILURES, SHARD_DIR}


def _target(root: Path, manifest: Manifest, overwrite: bool) -> Path:
    """Where `manifest`'s store is written: `root` itself (new, or the same store resumed),
    or — replacing another store — `.NAME.partial` beside it, resumed when it holds this
    store. Refusals name the folder and leave it untouched."""
    if not (root / MANIFEST).exists():
        foreign = [p.name for p in root.iterdir() if p.name != SHARD_DIR] if root.exists() else []
        if foreign or ((root / SHARD_DIR).is_dir() and any((root / SHARD_DIR).iterdir())):
            raise StoreError(
                f"{root} is not empty and is not a headstart store "
                f"(found {sorted(foreign)[:3]}); choose an empty folder"
            )
        return root
    try:
        existing = Manifest.read(root)
    except StoreError as error:  # torn, or edited by hand: its shards cannot be trusted
        if not overwrite:
            raise StoreError(f"{error}; --overwrite embeds the store again") from error
        existing = None
    if existing is not None and existing.key == manifest.key:
        return root
    if existing is not None and not overwrite:
        raise StoreError(
            f"{root} holds a store with another encoder or dataset "
            f"(key {existing.key[:12]}…, this run {manifest.key[:12]}…); "
            "choose another output folder or pass overwrite=True (--overwrite)"
        )
    others = sorted(
        p.name for p in root.iterdir() if p.name not in STORE_ENTRIES and ".tmp-" not in p.name
    )
    if others:
        raise StoreError(
            f"{root} holds files a store does not ({', '.join(others[:3])}); --overwrite "
            "replaces the whole folder, so move them elsewhere first or choose another folder"
        )
    staging = beside(root, ".partial")
    try:
        resumable = Manifest.read(staging).key == manifest.key
    except (StoreError, OSError, TypeError, ValueError, KeyError):  # absent, torn or foreign
        resumable = False
    if not resumable:
        remove(staging)  # another store's unfinished replacement
    return staging


def describe_failure(item_id: str, position: int, item: Any, reason: str) -> dict[str, str]:
    """The failures-file row for one skipped item (`path` only for items read from files)."""
    path = printable(str(item)) if isinstance(item, str | Path) else ""
    return {"id": item_id, "item": str(position), "path": path, "reason": reason}
