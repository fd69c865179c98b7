"""Saving and loading fitted heads and pipelines: JSON + safetensors, never pickle.

A saved model is a folder: `model.json` (registry name, parameters, scalar fitted state, library
versions) and `arrays.safetensors` (every fitted NumPy array). A scikit-learn `Pipeline` of
headstart transforms and a head is saved as one sub-folder per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from safetensors.numpy import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from headstart import __version__
from headstart.exceptions import StoreError
from headstart.heads import HEADS, Center, L2Normalize, PCAWhiten

TRANSFORMS = {"l2-normalize": L2Normalize, "center": Center, "pca-whiten": PCAWhiten}
MODEL_FILE, ARRAYS_FILE = "model.json", "arrays.safetensors"
PARAM_PREFIX = "param."  # safetensors keys of array-valued parameters


def _kind(estimator: BaseEstimator) -> str:
    for entry in HEADS:
        if type(estimator) is entry.factory:
            return entry.name
    for name, cls in TRANSFORMS.items():
        if type(estimator) is cls:
            return name
    raise TypeError(f"cannot save {type(estimator).__name__}: not a registered head or transform")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def save_model(model: BaseEstimator, folder: str | Path) -> Path:
    """Write a fitted head, transform or Pipeline of them to `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Pipeline):
        steps = []
        for index, (name, step) in enumerate(model.steps):
            save_model(step, folder / f"step-{index}")
            steps.append(name)
        meta = {"kind": "pipeline", "steps": steps}
    else:
        arrays, state = {}, {}
        for key, value in vars(model).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
                arrays[key] = np.ascontiguousarray(value)
            elif isinstance(value, np.ndarray):  # labels such as strings
                state[key] = {"array": value.tolist(), "dtype": value.dtype.str}
            else:
                state[key] = _jsonable(value)
        params = {}
        for key, value in model.get_params(deep=False).items():
            if isinstance(value, np.ndarray):  # e.g. class text embeddings
                arrays[PARAM_PREFIX + key] = np.ascontiguousarray(value, dtype=np.float64)
                params[key] = {"array_param": PARAM_PREFIX + key}
            else:
                params[key] = _jsonable(value)
        save_file(arrays, str(folder / ARRAYS_FILE))
        meta = {"kind": _kind(model), "params": params, "state": state}
    meta["versions"] = {"headstart": __version__, "scikit-learn": sklearn.__version__}
    (folder / MODEL_FILE).write_text(json.dumps(meta, indent=1))
    return folder


def load_model(folder: str | Path) -> BaseEstimator:
    """Read a model written by `save_model` (JSON and safetensors only)."""
    folder = Path(folder)
    path = folder / MODEL_FILE
    if not path.exists():
        raise StoreError(f"{folder} is not a saved headstart model (no {MODEL_FILE})")
    meta = json.loads(path.read_text())
    if meta["kind"] == "pipeline":
        return Pipeline(
            [(name, load_model(folder / f"step-{i}")) for i, name in enumerate(meta["steps"])]
        )
    cls = TRANSFORMS.get(meta["kind"]) or HEADS.entry(meta["kind"])[0].factory
    arrays = load_file(str(folder / ARRAYS_FILE))
    params = {
        key: arrays.pop(value["array_param"]) if isinstance(value, dict) else value
        for key, value in meta["params"].items()
    }
    model = cls(**params)
    for key, value in meta["state"].items():
        if isinstance(value, dict) and "array" in value:
            value = np.array(value["array"], dtype=np.dtype(value["dtype"]))
        setattr(model, key, value)
    for key, array in arrays.items():
        setattr(model, key, array)
    return model
