"""Saving and loading fitted heads and pipelines: JSON + safetensors, never pickle.

A saved model is a folder: `model.json` (registry name, parameters, scalar fitted state, library
versions) and `arrays.safetensors` (every fitted NumPy array). A scikit-learn `Pipeline` of
headstart transforms and a head is saved as one sub-folder per step, and a wrapper head's fitted
inner head (RCAL's `head_`) as a `part-<name>` sub-folder.
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
from headstart.cards import file_sha256
from headstart.exceptions import HeadstartError, StoreError
from headstart.heads import HEADS
from headstart.heads.transforms import TRANSFORMS
from headstart.json_files import check_seal, read_json_object, sealed
from headstart.output import check_writable

MODEL_FILE, ARRAYS_FILE = "model.json", "arrays.safetensors"
PARAM_PREFIX = "param."  # safetensors keys of array-valued parameters


def _kind(estimator: BaseEstimator) -> str:
    for entry in HEADS:
        if type(estimator) is entry.factory:
            return entry.name
    for entry in TRANSFORMS:
        if type(estimator) is entry.factory:
            return entry.name
    raise TypeError(f"cannot save {type(estimator).__name__}: not a registered head or transform")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def save_model(model: BaseEstimator, folder: str | Path) -> Path:
    """Write a fitted head, transform or Pipeline of them to `folder`."""
    folder = check_writable(folder, "model folder")
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
            if isinstance(value, BaseEstimator):  # a wrapper's fitted inner head
                save_model(value, folder / f"part-{key}")
                state[key] = {"estimator": f"part-{key}"}
            elif isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
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
        meta = {
            "kind": _kind(model),
            "params": params,
            "state": state,
            "arrays_sha256": file_sha256(folder / ARRAYS_FILE),
        }
    meta["versions"] = {"headstart": __version__, "scikit-learn": sklearn.__version__}
    (folder / MODEL_FILE).write_text(json.dumps(sealed(meta), indent=1))
    return folder


def load_model(folder: str | Path) -> BaseEstimator:
    """Read a model written by `save_model` (JSON and safetensors only).

    Every problem is a `StoreError` naming the file: invalid JSON, an unknown kind or
    parameter, weights that are missing, truncated, swapped (checksum) or not finite, and
    state that is not a fitted attribute (a key may not shadow a method).
    """
    folder = Path(folder)
    path = folder / MODEL_FILE
    meta = read_json_object(path, f"{folder} is not a saved headstart model (no {MODEL_FILE})")
    meta = check_seal(meta, path)
    if not isinstance(meta.get("kind"), str):
        raise StoreError(f"{path}: expected an object with a 'kind'")
    if meta["kind"] == "pipeline":
        return Pipeline(
            [
                (str(name), load_model(_inside(folder, f"step-{i}", path)))
                for i, name in enumerate(meta["steps"])
            ]
        )
    cls = _class_of(meta["kind"], path)
    arrays = _arrays(folder / ARRAYS_FILE, meta.get("arrays_sha256"))
    accepted = cls().get_params(deep=False)
    params = {}
    for key, value in dict(meta.get("params", {})).items():
        if key not in accepted:
            raise StoreError(f"{path}: {meta['kind']} has no parameter {key!r}")
        array_param = isinstance(value, dict) and set(value) == {"array_param"}
        params[key] = arrays.pop(value["array_param"]) if array_param else value
    model = cls(**params)
    state = dict(meta.get("state", {}))
    for key, value in [*state.items(), *arrays.items()]:
        if not _is_state_name(key) or hasattr(cls, key):
            raise StoreError(f"{path}: {key!r} is not fitted state of {meta['kind']}")
        if isinstance(value, dict) and "array" in value:
            value = np.array(value["array"], dtype=np.dtype(value["dtype"]))
        elif isinstance(value, dict) and "estimator" in value:
            if value["estimator"] != f"part-{key}":  # never a path of the file's choosing
                raise StoreError(f"{path}: {key!r} points outside its own sub-folder")
            value = load_model(_inside(folder, value["estimator"], path))
        setattr(model, key, value)
    return model


def _is_state_name(key: str) -> bool:
    """A fitted attribute's name (`coef_`): an identifier ending, not starting, with `_` —
    never a path such as `q_/../../x_`."""
    return key.isidentifier() and key.endswith("_") and not key.startswith("_")


def _inside(folder: Path, name: str, path: Path) -> Path:
    """`folder / name`, refused when it resolves (links followed) outside `folder`."""
    target = (folder / name).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise StoreError(f"{path}: sub-folder {name!r} resolves outside the model folder")
    return target


def _class_of(kind: str, path: Path) -> type:
    if kind in TRANSFORMS:
        return TRANSFORMS.entry(kind)[0].factory
    try:
        return HEADS.entry(kind)[0].factory
    except HeadstartError as error:
        raise StoreError(f"{path}: {error}") from error


def _arrays(path: Path, sha256: str | None) -> dict[str, np.ndarray]:
    """The weights, checked against the checksum written beside them and for finiteness."""
    if not path.is_file():
        raise StoreError(f"{path} is missing: the model's weights are not there")
    if sha256 and file_sha256(path) != sha256:
        raise StoreError(f"{path}: checksum mismatch (the weights were changed or swapped)")
    try:
        arrays = load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise StoreError(f"{path} is not a readable safetensors file: {error}") from error
    for key, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise StoreError(f"{path}: {key!r} holds NaN or infinite values")
    return arrays
