"""Bring your own embeddings: build a store from arrays, .npy/.npz or Parquet files.

Files are read without unpickling (`allow_pickle=False`; Parquet through Arrow). Ragged rows
and non-finite values are rejected with the row (and column) that is wrong, before anything
is written.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headstart import __version__
from headstart.cards import EncoderCard
from headstart.datasets.dataset import SPLITS
from headstart.exceptions import DataError
from headstart.store.manifest import Manifest, cache_key
from headstart.store.store import Store
from headstart.store.writer import StoreWriter

FEATURE_COLUMN = re.compile(r"(.*?)_?(\d+)")  # 'f12', 'dim_3', '7': prefix and number
CHECK_ROWS = 65_536  # rows validated / hashed / written per step, bounding extra memory
SCALE_RANGE = (1e-4, 1e8)  # accepted median row norms (check_scale)


def as_matrix(vectors: Any, source: str = "vectors") -> np.ndarray:
    """A 2-D float32 matrix from an array or a sequence of rows; ragged input is an error."""
    if not isinstance(vectors, np.ndarray):
        rows = list(vectors)
        if not rows:
            raise DataError(f"{source}: no vectors")
        width = len(rows[0])
        for i, row in enumerate(rows):
            if row is None or len(row) != width:
                got = "missing" if row is None else f"length {len(row)}"
                raise DataError(f"{source}: ragged vectors: row {i} has {got}, row 0 has {width}")
        vectors = np.asarray(rows)
    if vectors.dtype == object:
        raise DataError(f"{source}: vectors must be numeric, got Python objects")
    if vectors.ndim != 2:
        raise DataError(f"{source}: expected a 2-D (n, dim) array, got shape {vectors.shape}")
    if np.issubdtype(vectors.dtype, np.complexfloating):
        raise DataError(
            f"{source}: vectors are complex ({vectors.dtype}); headstart needs real numbers "
            "(split real and imaginary parts into columns yourself if both matter)"
        )
    if not (np.issubdtype(vectors.dtype, np.number) or vectors.dtype == np.bool_):
        raise DataError(f"{source}: vectors must be numeric, got dtype {vectors.dtype}")
    if len(vectors) == 0 or vectors.shape[1] == 0:
        raise DataError(f"{source}: empty array of shape {vectors.shape}")
    return vectors


def check_finite(matrix: np.ndarray, source: str = "vectors") -> None:
    """Raise naming the first row and column holding NaN or ±inf."""
    for start in range(0, len(matrix), CHECK_ROWS):
        with np.errstate(over="ignore"):  # a value beyond float32 is reported below
            block = np.asarray(matrix[start : start + CHECK_ROWS], dtype=np.float32)
        bad = ~np.isfinite(block)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            count = int(bad.sum())
            value = matrix[start + row, col]
            what = (
                f"{value:.4g}, beyond float32's range (±3.4e38) in which vectors are stored"
                if np.isfinite(value)
                else str(block[row, col])
            )
            raise DataError(
                f"{source}: row {start + row}, column {col} is {what} "
                f"({count} non-finite value(s) in rows {start}..{start + len(block)}); "
                "vectors must be finite"
            )


def check_scale(matrix: np.ndarray, source: str = "vectors") -> None:
    """Refuse vectors whose typical length (median L2 norm of the non-zero rows) is outside
    `SCALE_RANGE`: there float32 squares under- or overflow and the heads' fixed constants
    (ε, regularisation grids) swamp the data, so most heads would score chance silently."""
    norms = np.concatenate(
        [
            np.linalg.norm(np.asarray(matrix[i : i + CHECK_ROWS], dtype=np.float64), axis=1)
            for i in range(0, len(matrix), CHECK_ROWS)
        ]
    )
    norms = norms[norms > 0]
    if not len(norms):
        raise DataError(f"{source}: every vector is all zeros")
    typical = float(np.median(norms))
    low, high = SCALE_RANGE
    if not low <= typical <= high:
        raise DataError(
            f"{source}: the vectors' median length is {typical:.3g} (rows span "
            f"{norms.min():.3g}..{norms.max():.3g}), outside {low:g}..{high:g} where headstart's "
            f"heads are numerically sound; rescale them first (e.g. divide by {typical:.3g}, "
            "or L2-normalise each row)"
        )


def write_vectors(
    out: str | Path,
    vectors: Any,
    labels: Sequence[Any] | None = None,
    ids: Sequence[Any] | None = None,
    split: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    name: str = "user",
    source: str = "vectors",
    shard_size: int = 262_144,
    overwrite: bool = False,
) -> Store:
    """Write user vectors (and optional labels/ids/split/groups) as a store in `out`.
    Null or NaN labels mark unlabelled rows (label −1)."""
    matrix = as_matrix(vectors, source)
    n, dim = matrix.shape
    check_finite(matrix, source)
    check_scale(matrix, source)
    ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(n)]
    label_index, class_names = _encode_labels(labels, class_names, n, source)
    for what, values in (("ids", ids), ("split", split), ("groups", groups)):
        if values is not None and len(values) != n:
            raise DataError(f"{source}: {len(values)} {what} for {n} vectors")
    if split is not None:
        unknown = sorted({str(s) for s in split} - set(SPLITS))
        if unknown:
            raise DataError(
                f"{source}: split values {unknown[:5]} are not among {', '.join(SPLITS)}"
            )
    if len(set(ids)) != n:
        raise DataError(f"{source}: ids are not unique")
    card = EncoderCard(
        name=f"user:{name}", modality="vector", output_dim=dim, weights="user-supplied"
    )
    fingerprint = vectors_fingerprint(matrix, ids, label_index, split, groups)
    manifest = Manifest(
        key=cache_key(card.digest(), fingerprint),
        encoder=card.to_dict(),
        dataset={
            "name": name,
            "source": source,
            "modality": "vector",
            "n_items": n,
            "class_names": class_names,
            "fingerprint": fingerprint,
            "options": {},
        },
        dim=dim,
        n_items=n,
        shard_size=shard_size,
        created=datetime.now(UTC).isoformat(),
        versions={"headstart": __version__, "pyarrow": pa.__version__},
    )
    with StoreWriter.open(out, manifest, overwrite=overwrite) as writer:
        writer.write_arrays(matrix, ids, label_index, split, groups)
    return Store(out)


def read_vectors_file(path: str | Path) -> dict[str, Any]:
    """Vectors (and labels/ids/split/groups when present) from .npy, .npz or .parquet."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return {"vectors": np.load(path, mmap_mode="r", allow_pickle=False)}
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                data = {k: archive[k] for k in archive.files}
            key = next((k for k in ("vectors", "embeddings", "X", "features") if k in data), None)
            if key is None:
                raise DataError(
                    f"{path}: no array named vectors, embeddings, X or features "
                    f"(found {sorted(data)})"
                )
            return {
                "vectors": data.pop(key),
                **{k: data[k] for k in ("labels", "ids", "split", "groups") if k in data},
            }
    except ValueError as error:
        if "pickle" in str(error).lower() or "python objects" in str(error).lower():
            raise DataError(
                f"{path} holds Python objects; headstart never unpickles files — "
                "save plain numeric arrays"
            ) from error
        raise DataError(f"{path}: {error}") from error
    if suffix == ".parquet":
        return _read_parquet(path)
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .npy, .npz or .parquet")


def _read_parquet(path: Path) -> dict[str, Any]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:  # random bytes, a pickle, a truncated file
        raise DataError(f"{path} is not a readable Parquet file: {error}") from error
    if table.num_rows == 0:
        raise DataError(f"{path}: the table has no rows")
    names = table.column_names
    vector = next((c for c in ("vector", "embedding", "vectors", "embeddings") if c in names), None)
    result: dict[str, Any] = {}
    if vector is not None:
        column = table.column(vector).combine_chunks()
        kind = column.type
        if not (
            pa.types.is_list(kind)
            or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_list(kind)
        ) or not (pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)):
            raise DataError(
                f"{path}: column {vector!r} is {kind}; expected a list of numbers per row"
            )
        if pa.types.is_fixed_size_list(column.type):
            result["vectors"] = column.flatten().to_numpy().reshape(len(column), -1)
        else:
            lengths = column.value_lengths().fill_null(-1).to_numpy()
            bad = np.flatnonzero(lengths != lengths[0]) if len(lengths) else []
            if len(bad) or (len(lengths) and lengths[0] < 0):
                row = int(bad[0]) if len(bad) else 0
                raise DataError(
                    f"{path}: ragged vectors in column {vector!r}: row {row} has "
                    f"length {lengths[row]}, row 0 has {lengths[0]} (-1 = missing)"
                )
            result["vectors"] = column.flatten().to_numpy().reshape(len(column), -1)
    else:
        numeric = [
            c
            for c in names
            if c not in ("label", "id", "split", "group")
            and pa.types.is_floating(table.schema.field(c).type)
        ]
        if not numeric:
            raise DataError(f"{path}: no 'vector'/'embedding' list column and no float columns")
        _check_feature_columns(path, numeric)
        result["vectors"] = np.column_stack([table.column(c).to_numpy() for c in numeric])
    for column, key in (
        ("label", "labels"),
        ("id", "ids"),
        ("split", "split"),
        ("group", "groups"),
    ):
        if column in names:
            result[key] = table.column(column).to_numpy(zero_copy_only=False)
    return result


def _check_feature_columns(path: Path, columns: list[str]) -> None:
    """Wide tables: the float columns must be one numbered run (f0, f1, … or 0, 1, …), so a
    stray float column such as 'score' is an error instead of a silent extra feature."""
    parts = [FEATURE_COLUMN.fullmatch(c) for c in columns]
    prefixes = Counter(m.group(1) for m in parts if m)
    prefix = prefixes.most_common(1)[0][0] if prefixes else None
    odd = [c for c, m in zip(columns, parts, strict=True) if not m or m.group(1) != prefix]
    if odd:
        raise DataError(
            f"{path}: float column(s) {odd[:5]} are not feature columns "
            f"(expected names like '{prefix or 'f'}0', '{prefix or 'f'}1', …); drop them or "
            "put the vectors in one 'vector' list column"
        )
    numbers = [int(m.group(2)) for m in parts if m]
    start = numbers[0]
    if start not in (0, 1) or numbers != list(range(start, start + len(numbers))):
        raise DataError(
            f"{path}: feature columns {prefix}{start}…{prefix}{numbers[-1]} are not numbered "
            f"consecutively from 0 or 1 in file order"
        )


def _encode_labels(
    labels: Sequence[Any] | None, class_names: Sequence[str] | None, n: int, source: str
) -> tuple[np.ndarray, list[str]]:
    if labels is None:
        return np.full(n, -1, np.int64), list(class_names or [])
    values = np.asarray(labels)
    if len(values) != n:
        raise DataError(f"{source}: {len(values)} labels for {n} vectors")
    missing = _missing(values)
    if missing.any():  # null or NaN: an unlabelled row, not a class named "None" or "nan"
        known, names = _encode_labels(values[~missing], class_names, int((~missing).sum()), source)
        out = np.full(n, -1, np.int64)
        out[~missing] = known
        return out, names
    if np.issubdtype(values.dtype, np.floating):
        if not np.equal(np.mod(values, 1), 0).all():
            raise DataError(f"{source}: labels are fractional numbers; give class labels")
        values = values.astype(np.int64)
    if np.issubdtype(values.dtype, np.integer):
        top = int(values.max()) if n else -1
        names = list(class_names) if class_names else [str(c) for c in range(top + 1)]
        if top >= len(names) or values.min() < -1:
            raise DataError(f"{source}: integer labels must be in -1..{len(names) - 1}")
        return values.astype(np.int64), names
    names = list(class_names) if class_names else sorted({str(v) for v in values})
    index = {c: i for i, c in enumerate(names)}
    unknown = [str(v) for v in values if str(v) not in index]
    if unknown:
        raise DataError(f"{source}: label {unknown[0]!r} is not among class_names")
    return np.array([index[str(v)] for v in values], np.int64), names


def _missing(values: np.ndarray) -> np.ndarray:
    """Which labels are null (None) or NaN."""
    if values.dtype == object:
        return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in values])
    if np.issubdtype(values.dtype, np.floating):
        return np.isnan(values)
    return np.zeros(len(values), bool)


def vectors_fingerprint(
    matrix: np.ndarray,
    ids: list[str],
    labels: np.ndarray,
    split: Sequence[Any] | None,
    groups: Sequence[Any] | None,
) -> str:
    digest = hashlib.sha256(f"{matrix.shape}|".encode())
    for start in range(0, len(matrix), CHECK_ROWS):
        block = np.ascontiguousarray(matrix[start : start + CHECK_ROWS], dtype=np.float32)
        digest.update(memoryview(block).cast("B"))
    digest.update("\x1f".join(ids).encode())
    digest.update(labels.tobytes())
    for extra in (split, groups):
        digest.update(b"-" if extra is None else "\x1f".join(map(str, extra)).encode())
    return digest.hexdigest()
