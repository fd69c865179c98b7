"""The store manifest: what a store holds, where it came from, and which shards are finished.

A shard covers `shard_size` consecutive items; a long one may be written in parts (each
flushed after at most ~30 s of work, so a killed run loses little), parts in item order.

`manifest.json` is rewritten atomically (temp file + rename) after every finished shard, so a
killed run leaves either the old or the new manifest, never a torn one. It carries a checksum
of its own content (`metadata_sha256`): class names edited by hand are caught on every read.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from headstart.exceptions import StoreError
from headstart.json_files import check_seal, sealed

FORMAT = "headstart-store"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FAILURES = "failures.csv"
SHARD_DIR = "shards"


def vector_schema(dim: int) -> pa.Schema:
    """The Parquet schema of every shard: one row per item, the vector as fixed-size float32."""
    return pa.schema(
        [
            ("id", pa.string()),
            ("item", pa.int64()),  # position in the source dataset
            ("label", pa.int64()),  # -1 when unlabelled
            ("split", pa.string()),
            ("group", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def views_schema(dim: int) -> pa.Schema:
    """The schema of a shard's augmented views: views 1..n−1 of each item, tied by `item`."""
    return pa.schema(
        [("item", pa.int64()), ("view", pa.int32()), ("vector", pa.list_(pa.float32(), dim))]
    )


def cache_key(
    card_digest: str, dataset_fingerprint: str, views: dict[str, Any] | None = None
) -> str:
    """The store's identity: hash of the encoder card, the dataset fingerprint, the format and,
    for a store with augmented views, their recipe and seed."""
    text = f"{FORMAT}/{FORMAT_VERSION}|{card_digest}|{dataset_fingerprint}"
    if views:
        text += "|views:" + json.dumps(views, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ShardRecord:
    """One finished shard: its file, the dataset items it covers, its checksum and failures."""

    index: int
    file: str
    first_item: int
    n_items: int
    rows: int
    sha256: str
    failures: list[dict[str, str]] = field(default_factory=list)
    views_file: str = ""  # the shard's augmented views ("" when the store has none)
    views_sha256: str = ""
    view_rows: int = 0
    part: int = 0  # a shard written in parts (flushed by time) has parts 0, 1, ... in order


@dataclass
class Manifest:
    """Everything `manifest.json` records."""

    key: str
    encoder: dict[str, Any]
    dataset: dict[str, Any]
    dim: int
    n_items: int
    shard_size: int
    shards: list[ShardRecord] = field(default_factory=list)
    complete: bool = False
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)  # how to rebuild the encoder
    views: dict[str, Any] = field(default_factory=dict)  # augmented views' recipe, if any

    @property
    def n_shards(self) -> int:
        return -(-self.n_items // self.shard_size)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def failures(self) -> list[dict[str, str]]:
        return [f for s in sorted(self.shards, key=lambda s: (s.index, s.part)) for f in s.failures]

    def to_json(self) -> str:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        data["schema"] = {f.name: str(f.type) for f in vector_schema(self.dim)}
        return json.dumps(sealed(data), indent=1, sort_keys=False)

    def write(self, root: Path) -> None:
        """Atomically replace `root/manifest.json`."""
        write_atomic(root / MANIFEST, self.to_json().encode())

    @classmethod
    def read(cls, root: Path) -> Manifest:
        path = Path(root) / MANIFEST
        if not path.exists():
            raise StoreError(f"{root} is not a headstart store (no {MANIFEST})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise StoreError(f"{path} is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise StoreError(f"{path}: expected a JSON object")
        data = check_seal(data, path)
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise StoreError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} manifest")
        data = {k: v for k, v in data.items() if k not in ("format", "format_version", "schema")}
        data["shards"] = [ShardRecord(**s) for s in data.get("shards", [])]
        return cls(**data)


def write_atomic(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` via a temp file in the same folder and an atomic rename."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
