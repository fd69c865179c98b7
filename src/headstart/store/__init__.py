"""The embedding store: manifest.json + Parquet shards, keyed by encoder card and dataset."""

from headstart.store.import_vectors import read_vectors_file, write_vectors
from headstart.store.manifest import Manifest, ShardRecord, cache_key
from headstart.store.store import Store
from headstart.store.writer import StoreWriter, describe_failure, shard_table, views_table

__all__ = [
    "Manifest",
    "ShardRecord",
    "Store",
    "StoreWriter",
    "cache_key",
    "describe_failure",
    "read_vectors_file",
    "shard_table",
    "views_table",
    "write_vectors",
]
