"""`Store`: read an embedding store — one float32 matrix plus ids, labels, split and groups.

`vectors()` preallocates the full matrix once and copies each Parquet row group into it, so
peak memory stays near the matrix size plus one row group.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headstart.cards import EncoderCard, file_sha256
from headstart.exceptions import StoreError
from headstart.store.manifest import FAILURES, Manifest


class Store:
    """A finished (or, with `allow_partial`, partly written) embedding store on disk."""

    def __init__(
        self, root: str | Path, allow_partial: bool = False, check_integrity: bool = True
    ) -> None:
        self.root = Path(root)
        self.check_integrity = check_integrity  # re-hash the shards whenever vectors are read
        self.manifest = Manifest.read(self.root)
        if not self.manifest.complete and not allow_partial:
            raise StoreError(
                f"{self.root} is incomplete ({sum(s.n_items for s in self.manifest.shards)} of "
                f"{self.manifest.n_items} items); rerun the same embed command to resume"
            )
        for shard in self.manifest.shards:
            for file in filter(None, (shard.file, shard.views_file)):
                if not (self.root / file).is_file():
                    raise StoreError(f"{self.root}: shard file {file} is missing")

    @property
    def key(self) -> str:
        return self.manifest.key

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def card(self) -> EncoderCard:
        return EncoderCard.from_dict(self.manifest.encoder)

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest.dataset.get("class_names", []))

    def __len__(self) -> int:
        return self.manifest.rows

    def _paths(self) -> list[Path]:
        return [self.root / s.file for s in self.manifest.shards]

    def vectors(self) -> np.ndarray:
        """All vectors as one C-contiguous `(n, dim)` float32 matrix, in item order; every
        shard's checksum is verified on the way (in a second thread), so a changed shard is
        an error, not silently used.

        Row groups are read one at a time (no threads: the copy, not decoding, is the cost)
        and copied straight into the preallocated matrix.
        """
        out = np.empty((len(self), self.dim), dtype=np.float32)
        failure: Exception | None = None
        with ThreadPoolExecutor(1) as hasher:  # hashing releases the GIL: it overlaps decoding
            checks = hasher.submit(self.verify) if self.check_integrity else None
            try:
                row = self._read_vectors(out)
            except (OSError, pa.ArrowException) as error:  # e.g. a shard overwritten by junk
                failure, row = error, -1
        if checks is not None and (problems := checks.result()):
            raise StoreError(
                f"{self.root}: {'; '.join(problems[:3])} — a shard changed after it was "
                "written; rerun the embed command to redo it (or `store info --verify`)"
            )
        if failure is not None:
            raise StoreError(f"{self.root}: cannot read its shards: {failure}") from failure
        if row != len(out):
            raise StoreError(f"{self.root}: shards hold {row} rows, manifest says {len(out)}")
        return out

    def blocks(self) -> Iterator[tuple[list[str], np.ndarray]]:
        """(ids, vectors) one Parquet row group at a time, in item order, after every shard's
        checksum is verified: memory stays bounded by a row group, whatever the store's size
        (a whole slide's patches written to its `.h5`, say)."""
        if self.check_integrity and (problems := self.verify()):
            raise StoreError(
                f"{self.root}: {'; '.join(problems[:3])} — a shard changed after it was written"
            )
        for path in self._paths():
            shard = pq.ParquetFile(path)
            for group in range(shard.metadata.num_row_groups):
                table = shard.read_row_group(group, columns=["id", "vector"], use_threads=False)
                ids = [str(i) for i in table.column("id").to_pylist()]
                flat = table.column("vector").combine_chunks().flatten().to_numpy()
                yield ids, flat.reshape(-1, self.dim)

    def _read_vectors(self, out: np.ndarray) -> int:
        """Copy every shard's vectors into `out`; the number of rows copied."""
        row = 0
        for path in self._paths():
            shard = pq.ParquetFile(path)
            for group in range(shard.metadata.num_row_groups):  # one row group in memory
                table = shard.read_row_group(group, columns=["vector"], use_threads=False)
                for chunk in table.column(0).chunks:
                    flat = chunk.flatten().to_numpy(zero_copy_only=True)
                    block = flat.reshape(-1, self.dim)
                    out[row : row + len(block)] = block
                    row += len(block)
        return row

    @property
    def n_views(self) -> int:
        """Views per augmented item, the plain view included (1: the store has no views)."""
        return int(self.manifest.views.get("views", 1))

    def views(self, rows: np.ndarray, vectors: np.ndarray | None = None) -> np.ndarray:
        """(len(rows), n_views, dim) views of the given rows: view 0 is the row's own vector
        (taken from `vectors`, the store's matrix, when the caller has read it already).

        Only items outside the test split were augmented; asking for another row is an error.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if self.n_views == 1:
            raise StoreError(f"{self.root} has no augmented views (embed with --views N)")
        extra = self.n_views - 1
        where: dict[int, tuple[int, int]] = {}  # item → (views file number, first row)
        blocks = []
        for number, shard in enumerate(s for s in self.manifest.shards if s.views_file):
            table = pq.read_table(self.root / shard.views_file, columns=["item", "vector"])
            items = table.column("item").to_numpy()[::extra]
            where.update((int(item), (number, k * extra)) for k, item in enumerate(items))
            flat = table.column("vector").combine_chunks().flatten().to_numpy()
            blocks.append(flat.reshape(-1, self.dim))
        plain = self.vectors() if vectors is None else vectors
        out = np.empty((len(rows), self.n_views, self.dim), np.float32)
        row_items = self.column("item")
        for i, row in enumerate(rows):
            item = int(row_items[row])
            if item not in where:
                raise StoreError(
                    f"{self.root}: row {row} (id {self.ids[row]!r}, split "
                    f"{self.split[row]!r}) has no augmented views; only non-test items do"
                )
            number, first = where[item]
            out[i, 0] = plain[row]
            out[i, 1:] = blocks[number][first : first + extra]
        return out

    def column(self, name: str) -> np.ndarray:
        """One scalar column (`id`, `item`, `label`, `split`, `group`) across all shards."""
        parts = [
            pq.read_table(p, columns=[name]).column(0).to_numpy(zero_copy_only=False)
            for p in self._paths()
        ]
        return np.concatenate(parts) if parts else np.empty(0)

    @cached_property
    def ids(self) -> list[str]:
        return [str(i) for i in self.column("id")]

    @cached_property
    def labels(self) -> np.ndarray:
        return self.column("label").astype(np.int64)

    @cached_property
    def split(self) -> np.ndarray:
        return self.column("split")

    @cached_property
    def groups(self) -> np.ndarray:
        return self.column("group")

    @property
    def failures(self) -> list[dict[str, str]]:
        return self.manifest.failures

    def verify(self) -> list[str]:
        """Problems found by re-hashing every shard (empty when the store is intact)."""
        files = [(s.file, s.sha256) for s in self.manifest.shards]
        files += [(s.views_file, s.views_sha256) for s in self.manifest.shards if s.views_file]
        return [
            f"{file}: checksum mismatch"
            for file, sha256 in files
            if file_sha256(self.root / file) != sha256
        ]

    def info(self) -> dict[str, Any]:
        """A JSON-ready summary for `headstart store info`."""
        splits: dict[str, int] = {}
        for value in self.split:
            splits[str(value)] = splits.get(str(value), 0) + 1
        dataset = self.manifest.dataset
        return {
            "path": str(self.root),
            "key": self.key,
            "complete": self.manifest.complete,
            "encoder": self.card.name,
            "output": self.card.output,
            "dim": self.dim,
            "dataset": dataset.get("name"),
            "dataset_fingerprint": dataset.get("fingerprint"),
            "items": self.manifest.n_items,
            "rows": len(self),
            "views": self.manifest.views or None,
            "view_rows": sum(s.view_rows for s in self.manifest.shards),
            "splits": splits,
            "classes": len(self.class_names),
            "failures": len(self.failures),
            "failures_file": str(self.root / FAILURES) if self.failures else None,
            "shards": len(self.manifest.shards),
            "created": self.manifest.created,
            "size_bytes": sum(
                (self.root / f).stat().st_size
                for s in self.manifest.shards
                for f in filter(None, (s.file, s.views_file))
            ),
        }
