"""`StoreWriter`: creates or resumes a store folder and writes Parquet shards atomically.

A shard is written to a temporary name and renamed into place; then the manifest is rewritten
(also atomically). A killed run therefore leaves only finished shards plus stray temp files,
which the next open removes. Resuming verifies each finished shard's checksum.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headstart.cards import file_sha256
from headstart.exceptions import StoreError
from headstart.filenames import printable
from headstart.output import check_writable
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
    """Owns one store folder while a run writes it."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    @classmethod
    def open(cls, root: str | Path, manifest: Manifest, overwrite: bool = False) -> StoreWriter:
        """Start `manifest`'s store in `root`, or resume the one already there with the same key.

        A folder holding another store (different key) is refused unless `overwrite`; a
        non-empty folder that is not a store is always refused.
        """
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} exists and is not a directory")
        check_writable(root, "store folder")
        root.mkdir(parents=True, exist_ok=True)
        (root / SHARD_DIR).mkdir(exist_ok=True)
        if (root / MANIFEST).exists():
            existing = Manifest.read(root)
            if existing.key == manifest.key:
                intact = _verified(root, existing.shards)
                complete = existing.complete and len(intact) == len(existing.shards)
                manifest = replace(existing, shards=intact, complete=complete)
            elif overwrite:
                _remove_store_files(root)
            else:
                raise StoreError(
                    f"{root} holds a store with another encoder or dataset "
                    f"(key {existing.key[:12]}…, this run {manifest.key[:12]}…); "
                    "choose another output folder or pass overwrite=True (--overwrite)"
                )
        else:
            foreign = [p.name for p in root.iterdir() if p.name != SHARD_DIR]
            if foreign or any((root / SHARD_DIR).iterdir()):
                raise StoreError(
                    f"{root} is not empty and is not a headstart store "
                    f"(found {sorted(foreign)[:3]}); choose an empty folder"
                )
        _remove_temp_files(root)
        writer = cls(root, manifest)
        manifest.write(root)
        return writer

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

    def finish(self) -> Manifest:
        """Write the failures file and mark the store complete."""
        if self.pending_shards():
            raise StoreError(
                f"{self.root}: cannot finish, shards {self.pending_shards()[:5]} are not written"
            )
        buffer = io.StringIO()
        fields = ["id", "item", "path", "reason"]
        out = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        out.writeheader()
        out.writerows(self.manifest.failures)
        write_atomic(self.root / FAILURES, buffer.getvalue().encode())
        self.manifest.complete = True
        self.manifest.write(self.root)
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


def _remove_temp_files(root: Path) -> None:
    for folder in (root, root / SHARD_DIR):
        for path in folder.glob(".*.tmp-*"):
            path.unlink(missing_ok=True)


def _remove_store_files(root: Path) -> None:
    """Delete only what a store writes (manifest, failures, shards), nothing else."""
    for pattern in ("shard-*.parquet", "views-*.parquet"):
        for path in (root / SHARD_DIR).glob(pattern):
            path.unlink()
    for name in (MANIFEST, FAILURES):
        (root / name).unlink(missing_ok=True)


def describe_failure(item_id: str, position: int, item: Any, reason: str) -> dict[str, str]:
    """The failures-file row for one skipped item (`path` only for items read from files)."""
    path = printable(str(item)) if isinstance(item, str | Path) else ""
    return {"id": item_id, "item": str(position), "path": path, "reason": reason}
