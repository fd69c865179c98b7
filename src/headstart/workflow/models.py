"""Fitting a head on a store, saving it, and predicting with a saved model."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from headstart.cards import EncoderCard
from headstart.exceptions import DataError, StoreError
from headstart.heads import create_head, needs_class_texts
from headstart.heads.tags import head_tags
from headstart.heads.transforms import TRANSFORMS
from headstart.heads.views import final_step, fit_with_views, uses_views
from headstart.json_files import read_sealed_json, write_sealed_json
from headstart.openset.reject import REJECT_ARRAYS, REJECT_FILE, RejectOption
from headstart.output import FolderLock, new_folder
from headstart.persistence import MODEL_FILE, load_model, save_model
from headstart.store import Store
from headstart.workflow.splits import PROVENANCE, fitting_rows
from headstart.workflow.texts import (
    ClassTexts,
    with_class_texts,
)

UNKNOWN = "unknown"  # the prediction of an item the reject option turns away


def build_model(
    head: str, params: dict[str, Any] | None = None, transforms: Sequence[str] = ()
) -> Any:
    """A head, behind the named transforms when there are any."""
    model = create_head(head, **(params or {}))
    if not transforms:
        return model
    return Pipeline([*((t, TRANSFORMS.create(t)) for t in transforms), (head, model)])


def is_saved_model(folder: Path) -> bool:
    """Whether `folder` is one `fit` wrote (a model and its provenance): the only kind of
    folder `fit --overwrite` may replace."""
    return (folder / MODEL_FILE).is_file() and (folder / PROVENANCE).is_file()


def fit_store(
    store: Store,
    head: str,
    out: str | Path,
    params: dict[str, Any] | None = None,
    transforms: Sequence[str] = (),
    reject: str | None = None,
    reject_tpr: float = 0.95,
    overwrite: bool = False,
    all_rows: bool = False,
) -> Path:
    """Fit on the store's training rows (`workflow.splits`; with `all_rows` every labelled
    row, the test rows too) and save; with
    `reject` (an open-set score), also the threshold that accepts `reject_tpr` of held-out
    training items, saved beside the model and applied by `predict_rows`. `out` must be
    new, or with `overwrite` a saved model, replaced whole once the new one is written."""
    out = Path(out)
    with new_folder(out, "models", overwrite, is_saved_model) as staging:  # refusals first
        labels = store.labels
        rows, rule = fitting_rows(store, all_rows)
        if needs_class_texts(head):  # class names in the default prompt, by the store's encoder
            params = with_class_texts(store, [head], {head: params or {}}, ClassTexts())[head]
        model = build_model(head, params, transforms)
        vectors = store.vectors()
        views = store.views(rows, vectors) if store.n_views > 1 else None
        try:
            if head_tags(model).label_free:  # fitted on the class texts
                texts = np.asarray(final_step(model).get_params()["class_embeddings"])
                model.fit(texts, np.arange(len(texts)))
            else:
                fit_with_views(model, vectors[rows], labels[rows], views)
            option = RejectOption(reject, reject_tpr) if reject else None
            if option is not None:
                option.fit(model, vectors[rows], labels[rows])
        except ValueError as error:  # a parameter the head checks when fitting, n_neighbors=0
            raise DataError(f"head {head!r}: {error}") from error
        save_model(model, staging)
        if option is not None:
            option.save(staging)
        provenance = {
            "store": str(store.root),
            "store_key": store.key,
            "head": head,
            "class_names": store.class_names,
            "encoder": store.card.to_dict(),
            "recipe": store.manifest.recipe,
            "trained_rows": len(rows),
            "rows_rule": rule,
            "all_rows": all_rows,
            "views": store.n_views if uses_views(model) else 1,
        }
        write_sealed_json(staging / PROVENANCE, provenance)
    return out.absolute()


def ensure_reject(model_dir: str | Path, score: str, tpr: float = 0.95) -> RejectOption:
    """The model's reject option for `score` at `tpr`: the saved one, or one chosen now on
    the training rows of the store the model was fitted on (checked by its key) and saved
    into the model folder file by file (each written aside, then renamed into place)."""
    model_dir = Path(model_dir)
    model = load_model(model_dir)
    saved = RejectOption.load(model_dir, model)
    if saved is not None and saved.score == score and saved.tpr == tpr:
        return saved
    provenance = read_provenance(model_dir)
    path = provenance.get("store")
    if not path or not (Path(path) / "manifest.json").exists():
        raise DataError(
            f"model {model_dir} has no reject option for {score!r} and its training store "
            f"{path} is not available to choose one; fit it with --reject {score}"
        )
    store = Store(path)
    if store.key != provenance.get("store_key"):
        raise DataError(
            f"store {path} changed since model {model_dir} was fitted on it (another key); "
            f"fit the model again with --reject {score}"
        )
    rows, _ = fitting_rows(store, bool(provenance.get("all_rows")))  # the model's own rows
    try:
        option = RejectOption(score, tpr).fit(model, store.vectors()[rows], store.labels[rows])
    except ValueError as error:
        raise DataError(f"reject option {score!r} for {model_dir}: {error}") from error
    with FolderLock(model_dir, "model folder"):
        staging = Path(tempfile.mkdtemp(prefix=".reject-", dir=model_dir))
        try:
            option.save(staging)
            for name in (REJECT_ARRAYS, REJECT_FILE):  # the JSON last: it names the arrays' hash
                os.replace(staging / name, model_dir / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return option


def read_provenance(model_dir: str | Path) -> dict[str, Any]:
    """The model folder's provenance.json (class names, encoder card, recipe)."""
    path = Path(model_dir) / PROVENANCE
    if not (Path(model_dir) / MODEL_FILE).is_file():
        raise StoreError(f"{model_dir} is not a saved headstart model (no {MODEL_FILE})")
    data = read_sealed_json(path, f"{path} is missing: fit the model with headstart fit")
    if not isinstance(data.get("class_names"), list):
        raise StoreError(f"{path}: expected an object with 'class_names'")
    return data


def check_same_encoder(model_dir: str | Path, card: dict[str, Any]) -> None:
    """Refuse features from another encoder than the one the model was fitted on: its
    predictions would be confident and meaningless (8 of 8 flipped at p = 1.0)."""
    provenance = read_provenance(model_dir)
    fitted = provenance.get("encoder") or {}
    if EncoderCard.from_dict(fitted).digest() == EncoderCard.from_dict(card).digest():
        return
    differ = sorted(k for k in set(fitted) | set(card) if fitted.get(k) != card.get(k))
    raise DataError(
        f"model {model_dir} was fitted on {fitted.get('name')!r} features but these come from "
        f"{card.get('name')!r} (card fields that differ: {', '.join(differ[:6])}); embed the "
        "inputs with the model's encoder, or pass --allow-other-encoder if you know they match"
    )


class SavedModel:
    """A saved model read once: the head, its class names, encoder card and recipe, and its
    reject option — what `predict` and the service need for every batch after the first."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.model = load_model(self.folder)
        self.provenance = read_provenance(self.folder)
        self.names: list[str] = self.provenance["class_names"]
        self.reject = RejectOption.load(self.folder, self.model)
        final = self.model if hasattr(self.model, "classes_") else self.model[-1]
        self.classes = np.asarray(final.classes_)
        self.dim = int(getattr(self.model, "n_features_in_", 0)) or None

    def check_dim(self, vectors: np.ndarray) -> None:
        if self.dim is not None and (vectors.ndim != 2 or vectors.shape[1] != self.dim):
            got = f"{vectors.shape[1]}-d" if vectors.ndim == 2 else f"shape {vectors.shape}"
            raise DataError(f"model {self.folder} takes {self.dim}-d features; these are {got}")

    def predict(self, vectors: np.ndarray, ids: Sequence[str], top_k: int = 3) -> Ranked:
        """Top-k class names and probabilities per row; with a reject option, the verdict
        ("unknown" above the threshold chosen on the training items) and its score."""
        self.check_dim(vectors)
        proba = self.model.predict_proba(vectors)
        order = np.argsort(-proba, axis=1)[:, :top_k]
        labels = self.classes[order]
        names = (
            np.asarray(self.names, dtype=object)[labels.astype(int)]
            if self.names
            else labels.astype(str).astype(object)
        )
        ranked = Ranked(list(ids), names, np.take_along_axis(proba, order, axis=1))
        if self.reject is not None:
            ranked.scores = self.reject.scores(vectors)
            ranked.score_name, ranked.threshold = self.reject.score, self.reject.threshold_
        return ranked

    def rows(self, vectors: np.ndarray, ids: Sequence[str], top_k: int = 3) -> list[dict[str, Any]]:
        """`predict` as the rows of the predictions CSV."""
        return self.predict(vectors, ids, top_k).csv_rows()


@dataclass
class Ranked:
    """One batch's predictions kept as arrays; each front end formats them at its edge
    (`csv_rows` for the CSV and the batch engines, `records` for the service)."""

    ids: list[str]
    names: np.ndarray  # (n, k) class names, best first
    probabilities: np.ndarray  # (n, k)
    score_name: str | None = None  # the reject option's open-set score, if the model has one
    scores: np.ndarray | None = None
    threshold: float | None = None

    def predictions(self) -> np.ndarray:
        """The answer per item: the top class, or "unknown" above the reject threshold."""
        if self.scores is None:
            return self.names[:, 0]
        return np.where(self.scores <= self.threshold, self.names[:, 0], UNKNOWN)

    def csv_rows(self) -> list[dict[str, Any]]:
        """id, class_1, prob_1, ... (and prediction, <score>_score, threshold) per item."""
        answers, rows = self.predictions(), []
        for i, item_id in enumerate(self.ids):
            row: dict[str, Any] = {"id": item_id}
            for rank in range(self.names.shape[1]):
                row[f"class_{rank + 1}"] = self.names[i, rank]
                row[f"prob_{rank + 1}"] = round(float(self.probabilities[i, rank]), 6)
            if self.scores is not None:
                row["prediction"] = answers[i]
                row[f"{self.score_name}_score"] = round(float(self.scores[i]), 6)
                row["threshold"] = round(self.threshold, 6)
            rows.append(row)
        return rows

    def records(self) -> list[dict[str, Any]]:
        """The service's answer per item: the ranked labels, the prediction and, with a
        reject option, whether it said unknown, its score and threshold."""
        answers, out = self.predictions(), []
        for i, item_id in enumerate(self.ids):
            top = [
                {"label": label, "probability": round(float(p), 6)}
                for label, p in zip(self.names[i], self.probabilities[i], strict=True)
            ]
            record = {"item": item_id, "top": top, "prediction": answers[i]}
            if self.scores is not None:
                record |= {
                    "unknown": bool(self.scores[i] > self.threshold),
                    "score": {"name": self.score_name, "value": round(float(self.scores[i]), 6)},
                    "threshold": round(self.threshold, 6),
                }
            out.append(record)
        return out


def predict_rows(
    model_dir: str | Path, vectors: np.ndarray, ids: Sequence[str], top_k: int = 3
) -> list[dict[str, Any]]:
    """Top-k class names and probabilities per row, from a saved model."""
    return SavedModel(model_dir).rows(vectors, ids, top_k)


class Predictions(list):
    """Prediction rows (one dict per item), plus the input items that were skipped
    (unreadable files) with their reasons and, once written, where that list is."""

    def __init__(self, rows: list[dict[str, Any]], skipped: list[dict[str, str]]) -> None:
        super().__init__(rows)
        self.skipped = skipped
        self.skipped_file: Path | None = None

    def summary(self, out: str | Path | None) -> str:
        """One line for the terminal."""
        where = f" to {out}" if out is not None else ""
        line = f"wrote {len(self):,} predictions{where}"
        unknown = sum(row.get("prediction") == UNKNOWN for row in self)
        if any("prediction" in row for row in self):
            line += f"; {unknown} answered {UNKNOWN!r} by the model's reject option"
        if self.skipped:
            line += f"; {len(self.skipped)} input(s) skipped, reasons in {self.skipped_file}"
        return line

    def write(self, out: str | Path) -> None:
        """The predictions CSV and, when inputs were skipped, `<out>.skipped.csv` beside it."""
        write_csv(list(self), out)
        if self.skipped:
            self.skipped_file = Path(f"{out}.skipped.csv")
            write_csv(self.skipped, self.skipped_file)


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def model_recipe(model_dir: str | Path) -> dict[str, Any]:
    """How to rebuild the encoder that produced a model's training embeddings."""
    provenance = read_provenance(model_dir)
    if not provenance.get("recipe"):
        raise StoreError(
            f"{model_dir}: the training store does not record its encoder recipe; "
            "embed the inputs yourself and predict on that store"
        )
    return provenance["recipe"]
