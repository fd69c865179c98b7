"""The reject option: answer "unknown" when an item's open-set score is above a threshold
chosen on the support set — the score under which a target share (default 95%) of held-out
known items fall, each scored by a head and scorer fitted without its fold (never test data).
With fewer than two items in a class there is nothing to hold out: the support items' own
scores are used, and `how_` says so. Saved beside a model as JSON + safetensors."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from headstart.exceptions import StoreError
from headstart.openset.calibration import MAX_FOLDS
from headstart.openset.scores import create_score

REJECT_FILE, REJECT_ARRAYS = "reject.json", "reject.safetensors"


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
        held = self._held_out(model, X, y, seed)
        if held is None:
            held = create_score(self.score, **self.options).fit(model, X, y).score(X)
            self.how_ = f"in-sample scores of {len(y)} support items (a class has < 2 items)"
        else:
            folds = min(MAX_FOLDS, int(np.unique(y, return_counts=True)[1].min()))
            self.how_ = f"out-of-fold scores of {len(y)} support items ({folds} folds)"
        ordered = np.sort(held)
        self.threshold_ = float(ordered[math.ceil(self.tpr * len(ordered)) - 1])
        self.scorer_ = create_score(self.score, **self.options).fit(model, X, y)
        return self

    def _held_out(self, model: Any, X: np.ndarray, y: np.ndarray, seed: int):
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest < 2 or len(np.unique(y)) < 2:
            return None
        folds = StratifiedKFold(min(MAX_FOLDS, smallest), shuffle=True, random_state=seed)
        out = np.empty(len(y))
        for train, held in folds.split(X, y):
            fitted = clone(model).fit(X[train], y[train])
            scorer = create_score(self.score, **self.options).fit(fitted, X[train], y[train])
            out[held] = scorer.score(X[held])
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
        (folder / REJECT_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: str | Path, model: Any) -> RejectOption | None:
        """The reject option saved in a model folder (None when it has none)."""
        folder = Path(folder)
        if not (folder / REJECT_FILE).exists():
            return None
        try:
            meta = json.loads((folder / REJECT_FILE).read_text())
            data = (folder / REJECT_ARRAYS).read_bytes()
        except (OSError, json.JSONDecodeError) as error:
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
