"""The `Dataset` record every loader returns: items, labels, class names, ids, split, groups.

Nothing here reads a particular format; loaders in sibling modules build `Dataset`s.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from headstart.datasets.file_checks import unreadable_reason
from headstart.datasets.rendered import RenderedItem
from headstart.exceptions import DataError
from headstart.filenames import printable

SPLITS = ("train", "val", "test")


@dataclass(eq=False)
class Dataset:
    """A labelled collection of items.

    `items` is either an array of images `(n, H, W[, C])` (uint8) or a sequence of file paths
    (images) or strings (texts, with `modality="text"`). Labels are integers indexing
    `class_names`; -1 marks an unlabelled item. `split` keeps the source's official split.
    """

    name: str
    items: Sequence[Any] | np.ndarray
    labels: np.ndarray
    class_names: list[str]
    ids: list[str]
    modality: str = "image"
    split: np.ndarray | None = None
    groups: np.ndarray | None = None
    source: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.items)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.ids = [printable(str(i)) for i in self.ids]
        for what, value in (("labels", self.labels), ("ids", self.ids)):
            if len(value) != n:
                raise DataError(f"dataset {self.name!r}: {len(value)} {what} for {n} items")
        for what, value in (("split", self.split), ("groups", self.groups)):
            if value is not None and len(value) != n:
                raise DataError(f"dataset {self.name!r}: {len(value)} {what} values for {n} items")
        if self.split is not None:
            self.split = np.asarray(self.split, dtype=object)
            unknown = sorted(set(self.split) - set(SPLITS))
            if unknown:
                raise DataError(
                    f"dataset {self.name!r}: unknown split values {unknown}; "
                    f"use {', '.join(SPLITS)}"
                )
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=object).astype(str)
        duplicates = [i for i, count in Counter(self.ids).items() if count > 1]
        if duplicates:
            rows = [r for r, i in enumerate(self.ids) if i == duplicates[0]]
            raise DataError(
                f"dataset {self.name!r}: {len(duplicates)} duplicate ids, e.g. {duplicates[0]!r} "
                f"at rows {rows[:5]}; ids must be unique"
            )
        bad = (self.labels < -1) | (self.labels >= len(self.class_names))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"dataset {self.name!r}: label {self.labels[row]} at row {row} is outside "
                f"0..{len(self.class_names) - 1} (or -1 for unlabelled)"
            )

    def __len__(self) -> int:
        return len(self.items)

    @property
    def is_array(self) -> bool:
        """True when items are in-memory image arrays rather than paths or texts."""
        return isinstance(self.items, np.ndarray)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """A new dataset with the items at `indices`, in that order."""
        index = np.asarray(indices, dtype=np.int64)
        items = self.items[index] if self.is_array else [self.items[i] for i in index]
        return replace(
            self,
            items=items,
            labels=self.labels[index],
            ids=[self.ids[i] for i in index],
            split=None if self.split is None else self.split[index],
            groups=None if self.groups is None else self.groups[index],
            options={**self.options, "subset": len(index)},
        )

    def take(self, limit: int, seed: int = 0) -> Dataset:
        """A class-stratified random subset of at most `limit` items per split, order kept."""
        if limit <= 0:
            raise DataError(f"limit must be positive, got {limit}")
        rng = np.random.default_rng(seed)
        splits = self.split if self.split is not None else np.full(len(self), "all", object)
        chosen: list[np.ndarray] = []
        for name in dict.fromkeys(splits):
            pool = np.flatnonzero(splits == name)
            if len(pool) <= limit:
                chosen.append(pool)
                continue
            # round-robin over classes in random order gives a balanced draw
            by_class = [
                rng.permutation(pool[self.labels[pool] == c]) for c in np.unique(self.labels[pool])
            ]
            order = np.concatenate([np.stack(column) for column in _round_robin(by_class)])
            chosen.append(np.sort(order[:limit]))
        result = self.subset(np.sort(np.concatenate(chosen)))
        result.options = {**self.options, "limit": limit, "limit_seed": seed}
        return result

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over ids, labels, split, groups, class names and every item's content."""
        digest = hashlib.sha256()
        digest.update(f"{self.modality}|{len(self)}|".encode())
        digest.update("\x1f".join(self.class_names).encode())
        digest.update("\x1f".join(self.ids).encode())
        digest.update(self.labels.astype("<i8").tobytes())
        for extra in (self.split, self.groups):
            digest.update(b"-" if extra is None else "\x1f".join(map(str, extra)).encode())
        if self.is_array:
            array = np.ascontiguousarray(self.items)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(memoryview(array).cast("B"))
        elif self.modality == "text":
            for text in self.items:
                digest.update(hashlib.sha256(str(text).encode()).digest())
        else:
            with ThreadPoolExecutor(max_workers=8) as pool:
                for item_digest in pool.map(_content_digest, self.items, chunksize=64):
                    digest.update(item_digest)
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """Provenance of this dataset for a store manifest."""
        counts = Counter(self.split) if self.split is not None else {"all": len(self)}
        return {
            "name": self.name,
            "source": self.source,
            "modality": self.modality,
            "n_items": len(self),
            "splits": {str(k): int(v) for k, v in counts.items()},
            "class_names": list(self.class_names),
            "fingerprint": self.fingerprint,
            "options": self.options,
        }


def _round_robin(groups: list[np.ndarray]) -> list[list[int]]:
    """Columns of a round-robin over `groups`: first of each, then second of each, ..."""
    longest = max(len(g) for g in groups)
    return [[g[i] for g in groups if i < len(g)] for i in range(longest)]


def _content_digest(path: Any) -> bytes:
    """sha256 of a file's bytes; an unreadable file hashes to its error so the run can list it
    (a device or FIFO is never opened: the read would never end)."""
    if isinstance(path, RenderedItem):  # a corrupted image, a slide patch
        return path.digest()
    digest = hashlib.sha256()
    reason = unreadable_reason(path)
    if reason is not None:
        digest.update(f"unread:{reason}".encode())
        return digest.digest()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as error:
        digest.update(f"unreadable:{error.errno}".encode())
    return digest.digest()
