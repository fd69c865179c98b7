"""The reject option: answer "unknown" when an item's open-set score is above a threshold
chosen on the support set — the score under which a target share (default 95%) of held-out
known items fall, each scored by a head and scorer fitted without its fold (never test data,
never an item's own in-sample score: a kNN distance to itself is 0).

A class with one item is never held out: without it the class would vanish from the fold and
its item would be scored as an unknown. It stays in every fold's training rows; the threshold
comes from the other classes' held-out items (an item of a two-item class is scored with one
item of its class left, as a fresh item of a one-item class is), and `how_` names the
one-item classes. The asked share then holds for fresh items drawn like the support set; a
one-item class's own fresh items are kept less often (one exemplar covers less of a class).
With one item in every class nothing can be held out: refused, classes named. Saved beside a
model as JSON + safetensors."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from headstart.exceptions import DataError, StoreError
from headstart.json_files import read_sealed_json, write_sealed_json
from headstart.openset.calibration import MAX_FOLDS
from headstart.openset.scores import create_score

REJECT_FILE, REJECT_ARRAYS = "reject.json", "reject.safetensors"


def _listed(classes: np.ndarray, most: int = 10) -> str:
    """Class labels for a message: the first `most`, then how many more."""
    names = ", ".join(str(c) for c in classes[:most])
    return names + (f" and {len(classes) - most} more" if len(classes) > most else "")


class RejectOption:
    """`fit(model, X, y)` on the support set the model was fitted on; then `scores(X)` and
    `accept(X)` (score at most `threshold_`)."""

    def __init__(self, score: str, tpr: float = 0.95, **options: Any) -> None:
        if not 0 < tpr < 1:
            raise ValueError(f"the target true-positive rate must be in (0, 1), got {tpr}")
        self.score, self.tpr, self.options = score, tpr, options
        create_score(score, **options)  # an unknown name or option fails before any work

    def fit(self, model: Any, X: np.ndarray, y: np.ndarray, seed: int = 0) -> RejectOption:
        y = np.asarray(y)
        classes, counts = np.unique(y, return_counts=True)
        single = classes[counts < 2]
        if len(single) == len(classes):
            raise DataError(
                f"reject option {self.score!r}: every class has one item ({_listed(single)}), "
                "so no known item can be held out to choose the threshold; give some class "
                "at least two items"
            )
        folds = min(MAX_FOLDS, int(counts[counts >= 2].min()))
        held = np.sort(self._held_out(model, X, y, single, folds, seed))
        self.threshold_ = float(held[math.ceil(self.tpr * len(held)) - 1])
        self.how_ = f"out-of-fold scores of {len(held)} support items ({folds} folds)"
        if len(single):
            self.how_ += f"; {len(single)} one-item classes ({_listed(single)}) are never held out"
        self.scorer_ = create_score(self.score, **self.options).fit(model, X, y)
        return self

    def _held_out(self, model: Any, X, y, single, folds: int, seed: int) -> np.ndarray:
        """Out-of-fold scores of the items of classes with two or more items; the one-item
        classes' items are in every fold's training rows."""
        several = np.flatnonzero(~np.isin(y, single))
        always = np.flatnonzero(np.isin(y, single))
        out = np.empty(len(several))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, held in splitter.split(X[several], y[several]):
            rows = np.sort(np.r_[several[train], always])  # the support set's order
            fitted = clone(model).fit(X[rows], y[rows])
            scorer = create_score(self.score, **self.options).fit(fitted, X[rows], y[rows])
            out[held] = scorer.score(X[several[held]])
        return out

    def scores(self, X: np.ndarray) -> np.ndarray:
        return self.scorer_.score(X)

    def accept(self, X: np.ndarray) -> np.ndarray:
        return self.scores(X) <= self.threshold_

    def save(self, folder: str | Path) -> None:
        """reject.json (score, options, threshold, how) + the scorer's arrays."""
        folder = Path(folder)
        arrays = {
            k: np.ascontiguousarray(v.numpy())  # a Cholesky factor comes column-major
            for k, v in vars(self.scorer_).items()
            if isinstance(v, torch.Tensor)
        }
        save_file(arrays, str(folder / REJECT_ARRAYS))
        meta = {
            "score": self.score,
            "options": self.options,
            "tpr": self.tpr,
            "threshold": self.threshold_,
            "how": self.how_,
            "arrays_sha256": hashlib.sha256((folder / REJECT_ARRAYS).read_bytes()).hexdigest(),
        }
        write_sealed_json(folder / REJECT_FILE, meta)

    @classmethod
    def load(cls, folder: str | Path, model: Any) -> RejectOption | None:
        """The reject option saved in a model folder (None when it has none)."""
        folder = Path(folder)
        if not (folder / REJECT_FILE).exists():
            return None
        try:
            meta = read_sealed_json(folder / REJECT_FILE, f"{folder / REJECT_FILE} is missing")
            data = (folder / REJECT_ARRAYS).read_bytes()
        except OSError as error:
            raise StoreError(
                f"{folder / REJECT_FILE}: unreadable reject option ({error})"
            ) from error
        if hashlib.sha256(data).hexdigest() != meta.get("arrays_sha256"):
            raise StoreError(f"{folder / REJECT_ARRAYS}: checksum mismatch — the file changed")
        option = cls(meta["score"], meta["tpr"], **meta["options"])
        option.threshold_, option.how_ = float(meta["threshold"]), meta["how"]
        option.scorer_ = create_score(meta["score"], **meta["options"])
        option.scorer_.model_ = model
        for key, value in load_file(str(folder / REJECT_ARRAYS)).items():
            setattr(option.scorer_, key, torch.as_tensor(value))
        return option
