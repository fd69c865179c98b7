"""Fitting, predicting and evaluating heads on stores: the steps behind `headstart fit`,
`predict` and `eval`. Nothing here is a model; it moves stores, models and results around.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from headstart.cards import EncoderCard
from headstart.encoders import create_encoder
from headstart.exceptions import DataError, StoreError
from headstart.heads import create_head, needs_class_texts
from headstart.heads.views import final_step, fit_with_views, uses_views
from headstart.openset.reject import RejectOption
from headstart.persistence import MODEL_FILE, TRANSFORMS, load_model, save_model
from headstart.prompts import (
    class_embeddings,
    description_embeddings,
    differential_embeddings,
    read_descriptions,
    read_differential_descriptions,
)
from headstart.protocol import Results, evaluate_few_shot, learning_curve
from headstart.protocol.incremental import evaluate_incremental
from headstart.protocol.open_set import evaluate_open_set
from headstart.protocol.pac_bayes import rank_prompts
from headstart.protocol.results import store_label
from headstart.store import Store

PROVENANCE = "provenance.json"
HOLDOUT = 0.3  # test share when a store has no official split


UNKNOWN = "unknown"  # the prediction of an item the reject option turns away


def train_test_rows(store: Store) -> tuple[np.ndarray, np.ndarray, str]:
    """Row indices of the labelled train and test rows: the official split, else a fixed
    stratified 30% holdout; and which of the two it was."""
    labels, split = store.labels, store.split.astype(str)
    labelled = labels >= 0
    if (split == "test").any() and (split == "train").any():
        train = np.flatnonzero(labelled & (split == "train"))
        _need_two_classes(store, labels[train], "labelled training rows")
        return train, np.flatnonzero(labelled & (split == "test")), "official split"
    index = np.flatnonzero(labelled)
    _need_two_classes(store, labels[index], "labelled rows")
    if len(index) < 4:
        raise DataError(f"store {store.root} has {len(index)} labelled rows; need at least 4")
    counts = np.bincount(labels[index])
    present = np.flatnonzero(counts)
    n_test = int(np.ceil(HOLDOUT * len(index)))
    if counts[present].min() < 2 or n_test < len(present):
        names = store.class_names
        rare = [names[c] if c < len(names) else str(c) for c in present if counts[c] < 2]
        problem = (
            f"classes with a single row: {rare[:5]}"
            if rare
            else f"its {n_test} test rows cannot hold one row of each of {len(present)} classes"
        )
        raise DataError(
            f"store {store.root} has no official split, and a stratified {HOLDOUT:.0%} holdout "
            f"of its {len(index)} labelled rows is impossible: {problem}; embed more items or "
            "give the store a train/test split"
        )
    train, test = train_test_split(index, test_size=HOLDOUT, random_state=0, stratify=labels[index])
    return train, test, "stratified 30% holdout (seed 0)"


def _need_two_classes(store: Store, labels: np.ndarray, what: str) -> None:
    """A classifier needs two classes; say which one class there is."""
    present = np.unique(labels)
    if len(present) < 2:
        names = store.class_names
        only = names[present[0]] if len(present) and present[0] < len(names) else present
        raise DataError(
            f"store {store.root}: its {what} hold a single class ({only!r}); a classifier "
            "needs at least two"
        )


def train_test(store: Store) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Labelled train and test rows' vectors and labels (see `train_test_rows`)."""
    train, test, protocol = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    return vectors[train], labels[train], vectors[test], labels[test], protocol


@dataclass
class ClassTexts:
    """Where zero-shot heads get their class embeddings: class `names` (default: the store's)
    in prompt `templates`, or a JSON file of per-class `descriptions` (descriptors); FuDD also
    reads a JSON file of pairwise `differential` descriptions."""

    names: Sequence[str] | None = None
    templates: Sequence[str] | None = None  # None: the encoder's own default
    descriptions: str | Path | None = None
    differential: str | Path | None = None


def store_encoder(store: Store) -> Any:
    """The encoder that made `store`, rebuilt from its recorded recipe."""
    recipe = store.manifest.recipe
    if not recipe:
        raise DataError(
            f"store {store.root} does not record its encoder recipe, so class texts cannot be "
            "embedded in its space; re-embed it with headstart embed"
        )
    return create_encoder(recipe["name"], **recipe.get("options", {}))


def class_text_embeddings(store: Store, texts: ClassTexts, encoder: Any = None) -> np.ndarray:
    """(K, d) class embeddings in the store's space (its encoder must embed texts)."""
    names = _class_names(store, texts)
    encoder = encoder or store_encoder(store)
    if texts.descriptions:
        return description_embeddings(encoder, names, read_descriptions(texts.descriptions))
    return class_embeddings(encoder, names, texts.templates)


def _class_names(store: Store, texts: ClassTexts) -> list[str]:
    names = list(texts.names or store.class_names)
    if len(names) != len(store.class_names):
        raise DataError(
            f"{len(names)} class names given for the store's {len(store.class_names)} classes"
        )
    return names


def with_class_texts(
    store: Store,
    heads: Sequence[str],
    head_params: dict[str, dict[str, Any]] | None,
    texts: ClassTexts,
) -> dict[str, dict[str, Any]]:
    """Parameters per head, with what the text-conditioned heads take filled in: class
    embeddings (descriptions: kept unnormalised, the mean cosine over descriptors) and, for
    FuDD, the pairwise differential descriptions — all embedded by the store's encoder."""
    params = {h: dict((head_params or {}).get(h, {})) for h in heads}
    accepted = {h: create_head(h).get_params() for h in heads}
    encoder = store_encoder(store)
    embeddings = class_text_embeddings(store, texts, encoder)
    pairs = None
    if texts.differential:
        pairs = differential_embeddings(
            encoder, _class_names(store, texts), read_differential_descriptions(texts.differential)
        )
    for head in heads:
        if "class_embeddings" in accepted[head]:
            params[head].setdefault("class_embeddings", embeddings)
        if texts.descriptions and "normalize_text" in accepted[head]:
            params[head].setdefault("normalize_text", False)
        if pairs is not None and "differential" in accepted[head]:
            params[head].update(
                differential=pairs[0], differential_classes=pairs[1], differential_against=pairs[2]
            )
    return params


def build_model(
    head: str, params: dict[str, Any] | None = None, transforms: Sequence[str] = ()
) -> Any:
    """A head, behind the named transforms when there are any."""
    model = create_head(head, **(params or {}))
    if not transforms:
        return model
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        raise DataError(f"unknown transform(s) {unknown}; choose from {sorted(TRANSFORMS)}")
    return Pipeline([*((t, TRANSFORMS[t]()) for t in transforms), (head, model)])


def fit_store(
    store: Store,
    head: str,
    out: str | Path,
    params: dict[str, Any] | None = None,
    transforms: Sequence[str] = (),
    reject: str | None = None,
    reject_tpr: float = 0.95,
) -> Path:
    """Fit on the store's training rows (all labelled rows without a split) and save; with
    `reject` (an open-set score), also the threshold that accepts `reject_tpr` of held-out
    training items, saved beside the model and applied by `predict_rows`."""
    labels, split = store.labels, store.split.astype(str)
    rows = (labels >= 0) & ((split == "train") if (split == "train").any() else True)
    if not rows.any():
        raise DataError(f"store {store.root} has no labelled training rows")
    _need_two_classes(store, labels[rows], "training rows")
    if needs_class_texts(head):  # class names in the default prompt, by the store's encoder
        params = with_class_texts(store, [head], {head: params or {}}, ClassTexts())[head]
    model = build_model(head, params, transforms)
    vectors = store.vectors()
    views = store.views(np.flatnonzero(rows), vectors) if store.n_views > 1 else None
    try:
        if getattr(final_step(model), "label_free", False):  # fitted on the class texts alone
            texts = np.asarray(final_step(model).class_embeddings)
            model.fit(texts, np.arange(len(texts)))
        else:
            fit_with_views(model, vectors[rows], labels[rows], views)
        option = RejectOption(reject, reject_tpr) if reject else None
        if option is not None:
            option.fit(model, vectors[rows], labels[rows])
    except ValueError as error:  # a parameter the head checks when fitting, e.g. n_neighbors=0
        raise DataError(f"head {head!r}: {error}") from error
    folder = save_model(model, out)
    if option is not None:
        option.save(folder)
    provenance = {
        "store": str(store.root),
        "store_key": store.key,
        "head": head,
        "class_names": store.class_names,
        "encoder": store.card.to_dict(),
        "recipe": store.manifest.recipe,
        "trained_rows": int(rows.sum()),
        "views": store.n_views if uses_views(model) else 1,
    }
    (folder / PROVENANCE).write_text(json.dumps(provenance, indent=1))
    return folder


def read_provenance(model_dir: str | Path) -> dict[str, Any]:
    """The model folder's provenance.json (class names, encoder card, recipe)."""
    path = Path(model_dir) / PROVENANCE
    if not (Path(model_dir) / MODEL_FILE).is_file():
        raise StoreError(f"{model_dir} is not a saved headstart model (no {MODEL_FILE})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise StoreError(f"{path} is missing: fit the model with headstart fit") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise StoreError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("class_names"), list):
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


def predict_rows(
    model_dir: str | Path, vectors: np.ndarray, ids: Sequence[str], top_k: int = 3
) -> list[dict[str, Any]]:
    """Top-k class names and probabilities per row, from a saved model."""
    model = load_model(model_dir)
    names = read_provenance(model_dir)["class_names"]
    expected = getattr(model, "n_features_in_", vectors.shape[1])
    if vectors.shape[1] != expected:
        raise DataError(
            f"model {model_dir} takes {expected}-d features; these are {vectors.shape[1]}-d"
        )
    proba = model.predict_proba(vectors)
    classes = np.asarray(model.classes_ if hasattr(model, "classes_") else model[-1].classes_)
    order = np.argsort(-proba, axis=1)[:, :top_k]
    reject = RejectOption.load(model_dir, model)
    scores = None if reject is None else reject.scores(vectors)
    rows = []
    for i, item_id in enumerate(ids):
        row: dict[str, Any] = {"id": item_id}
        for rank, column in enumerate(order[i], start=1):
            label = classes[column]
            row[f"class_{rank}"] = names[int(label)] if names else str(label)
            row[f"prob_{rank}"] = round(float(proba[i, column]), 6)
        if reject is not None:  # "unknown" above the threshold chosen on the training items
            accepted = scores[i] <= reject.threshold_
            row["prediction"] = row["class_1"] if accepted else UNKNOWN
            row[f"{reject.score}_score"] = round(float(scores[i]), 6)
            row["threshold"] = round(reject.threshold_, 6)
        rows.append(row)
    return rows


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


def evaluate_store(
    store: Store,
    heads: Sequence[str],
    shots: Sequence[int | str],
    seeds: int,
    transforms: Sequence[str] = (),
    progress: Any = None,
    head_params: dict[str, dict[str, Any]] | None = None,
    texts: ClassTexts | None = None,
    shots_policy: str = "error",
    calibrate: bool = False,
) -> Results:
    """The few-shot grid on one store (`head_params`: parameters per head name). Zero-shot
    and training-free heads get class embeddings from `texts` (default: the class names in
    the default prompt) embedded by the store's own encoder."""
    train, test, protocol = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    X_train, y_train, X_test, y_test = vectors[train], labels[train], vectors[test], labels[test]
    if any(needs_class_texts(h) for h in heads):
        head_params = with_class_texts(store, heads, head_params, texts or ClassTexts())
    models = {h: build_model(h, (head_params or {}).get(h), transforms) for h in heads}
    results = evaluate_few_shot(
        X_train,
        y_train,
        X_test,
        y_test,
        models,
        shots=shots,
        seeds=seeds,
        dataset=str(store.manifest.dataset.get("name")),
        encoder=store.card.name,
        class_names=store.class_names,
        progress=progress,
        views_train=store.views(train, vectors) if store.n_views > 1 else None,
        shots_policy=shots_policy,
        calibrate=calibrate,
        store=store_label(
            str(store.manifest.dataset.get("name")), store.card.name, store.dim, store.key
        ),
    )
    results.provenance.update(
        {
            "split": protocol,
            "store_path": str(store.root),
            "store_key": store.key,
            "encoder_card": store.card.to_dict(),
            "transforms": list(transforms),
        }
    )
    return results


def evaluate_store_open_set(
    store: Store,
    heads: Sequence[str],
    shots: Sequence[int | str],
    seeds: int,
    scores: Sequence[str],
    unknown_fraction: float,
    far: Store | None = None,
    transforms: Sequence[str] = (),
    progress: Any = None,
) -> Results:
    """The open-set protocol on a store's train/test split; `far` (a store of the same
    encoder card) is scored as far out-of-distribution."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    if far is not None and far.card.digest() != store.card.digest():
        raise DataError(
            f"far set {far.root} was embedded by {far.card.name!r} with another card than "
            f"{store.root} ({store.card.name!r}); scores would compare different features"
        )
    results = evaluate_open_set(
        X_train,
        y_train,
        X_test,
        y_test,
        {h: build_model(h, None, transforms) for h in heads},
        scores,
        shots,
        seeds,
        unknown_fraction,
        None if far is None else far.vectors(),
        dataset=str(store.manifest.dataset.get("name")),
        encoder=store.card.name,
        class_names=store.class_names,
        store=store_label(
            str(store.manifest.dataset.get("name")), store.card.name, store.dim, store.key
        ),
        progress=progress,
    )
    results.provenance.update(
        {"split": protocol, "store_path": str(store.root), "store_key": store.key}
    )
    if far is not None:
        results.provenance["far_store"] = str(far.root)
    return results


def evaluate_store_incremental(
    store: Store,
    heads: Sequence[str],
    spec: str,
    seeds: int,
    transforms: Sequence[str] = (),
    progress: Any = None,
) -> Results:
    """Class-incremental sessions on a store's train/test split (GDA with streaming
    statistics, so it can add classes)."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    models = {
        h: build_model(h, {"streaming": True} if h == "gda" else None, transforms) for h in heads
    }
    results = evaluate_incremental(
        X_train,
        y_train,
        X_test,
        y_test,
        models,
        spec,
        seeds,
        dataset=str(store.manifest.dataset.get("name")),
        encoder=store.card.name,
        class_names=store.class_names,
        store=store_label(
            str(store.manifest.dataset.get("name")), store.card.name, store.dim, store.key
        ),
        progress=progress,
    )
    results.provenance.update({"split": protocol, "store_path": str(store.root)})
    return results


def learning_curve_store(store: Store, sizes: Sequence[int], repeats: int) -> Results:
    """NB vs logistic regression learning curves on one store."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    results = learning_curve(
        X_train,
        y_train,
        X_test,
        y_test,
        sizes,
        repeats,
        dataset=str(store.manifest.dataset.get("name")),
        encoder=store.card.name,
        class_names=store.class_names,
    )
    results.provenance.update({"split": protocol, "store": str(store.root)})
    return results


def rank_templates(
    store: Store,
    templates: Sequence[str],
    names: Sequence[str] | None = None,
    delta: float = 0.05,
) -> list[dict[str, Any]]:
    """Prompt templates ranked by their PAC-Bayes bound (uniform prior over `templates`),
    computed from the training rows only; each row also reports the test error, which takes no
    part in the ranking."""
    X_train, y_train, X_test, y_test, _ = train_test(store)
    encoder = store_encoder(store)
    names = list(names or store.class_names)
    train_errors, test_errors = {}, {}
    for template in templates:
        texts = class_embeddings(encoder, names, (template,))
        head = create_head("zero-shot", class_embeddings=texts).fit(texts, np.arange(len(names)))
        train_errors[template] = float(np.mean(head.predict(X_train) != y_train))
        test_errors[template] = float(np.mean(head.predict(X_test) != y_test))
    ranked = rank_prompts(train_errors, m=len(y_train), delta=delta)
    return [
        {
            "template": r.prompt,
            "train_error": r.train_error,
            "kl": r.kl,
            "bound": r.bound,
            "test_error": test_errors[r.prompt],
        }
        for r in ranked
    ]
