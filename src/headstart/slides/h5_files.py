"""Per-slide `.h5` feature files in the layout CLAM and TRIDENT read and write: a `features`
dataset (patches × dims, float32) and a `coords` dataset (patches × 2, level-0 top-left x, y)
whose attributes say how the patches were cut — CLAM's (patch_size, patch_level, downsample,
level_dim, name) and TRIDENT's (patch_size_level0, level0_magnification, target_magnification,
overlap, level0_width, level0_height). HDF5 holds arrays only; nothing is unpickled.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from headstart.exceptions import DataError, MissingExtraError


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise MissingExtraError(
            ".h5 feature files need h5py: pip install 'headstart[mil]'"
        ) from error
    return h5py


def write_h5(
    path: str | Path,
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    dim: int,
    coords_attrs: dict[str, Any],
    features_attrs: dict[str, Any],
) -> int:
    """Write one slide's file from (features, coords) chunks, appended to resizable datasets
    (as CLAM's save_hdf5 does), so memory holds one chunk, not the slide; atomically (a
    temporary file renamed into place). Returns the number of patches written."""
    h5py = _h5py()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with h5py.File(partial, "w") as h5:
        features = h5.create_dataset(
            "features", shape=(0, dim), maxshape=(None, dim), dtype="float32", chunks=True
        )
        coords = h5.create_dataset(
            "coords", shape=(0, 2), maxshape=(None, 2), dtype="int64", chunks=True
        )
        for block, where in chunks:
            start = len(features)
            features.resize(start + len(block), axis=0)
            coords.resize(start + len(block), axis=0)
            features[start:] = np.asarray(block, np.float32)
            coords[start:] = np.asarray(where, np.int64).reshape(-1, 2)
        for name, attrs in (("coords", coords_attrs), ("features", features_attrs)):
            for key, value in attrs.items():
                h5[name].attrs[key] = value
        written = len(features)
    os.replace(partial, path)
    return written


def write_coords_h5(path: str | Path, coords: np.ndarray, attrs: dict[str, Any]) -> Path:
    """A coordinates-only file, as CLAM's create_patches_fp.py writes to `patches/`."""
    h5py = _h5py()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with h5py.File(partial, "w") as h5:
        h5.create_dataset("coords", data=np.asarray(coords, np.int64).reshape(-1, 2))
        for key, value in attrs.items():
            h5["coords"].attrs[key] = value
    os.replace(partial, path)
    return path


def read_h5(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """(features (N, D), coords (N, 2) or None, the coords' attributes) of one slide's file."""
    h5py = _h5py()
    path = Path(path)
    try:
        with h5py.File(path, "r") as h5:
            if "features" not in h5:
                raise DataError(f"{path} has no 'features' dataset (found {sorted(h5)})")
            features = np.asarray(h5["features"], dtype=np.float32)
            coords = np.asarray(h5["coords"], dtype=np.int64) if "coords" in h5 else None
            attrs = {k: _plain(v) for k, v in h5["coords"].attrs.items()} if "coords" in h5 else {}
    except OSError as error:  # truncated, or not HDF5 at all
        raise DataError(f"{path} cannot be read as HDF5: {error}") from error
    if features.ndim == 3 and features.shape[0] == 1:  # some exporters keep a batch axis
        features = features[0]
    if coords is not None and coords.ndim == 3 and coords.shape[0] == 1:
        coords = coords[0]
    if features.ndim != 2 or len(features) == 0:
        raise DataError(f"{path}: features of shape {features.shape} are not (patches, dims)")
    if coords is not None and coords.shape != (len(features), 2):
        raise DataError(
            f"{path}: coords of shape {coords.shape} do not match {len(features)} patches"
        )
    return features, coords, attrs


def footprint(attrs: dict[str, Any]) -> int | None:
    """A patch's level-0 side from the coords' attributes (TRIDENT's patch_size_level0, or
    CLAM's patch_size × downsample), None when they do not say."""
    if "patch_size_level0" in attrs:
        return int(attrs["patch_size_level0"])
    if "patch_size" in attrs and "downsample" in attrs:
        downsample = np.atleast_1d(attrs["downsample"]).astype(float)
        return round(float(attrs["patch_size"]) * float(downsample[0]))
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value
