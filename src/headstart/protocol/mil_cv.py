"""Repeated stratified k-fold cross-validation of MIL models on the same folds.

Folds are stratified by bag label and, when the bags carry groups (e.g. patients), grouped so
that no group is on both sides. Every model sees the same folds, so differences are paired.
Rows are the protocol's tidy rows with shots = "cv" and seed = repeat·folds + fold; metrics:
AUC (two classes), accuracy, balanced accuracy. The folds' training sets overlap, so
intervals are the corrected resampled t (`protocol.statistics`), not a t over 50 "seeds".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from headstart.exceptions import DataError
from headstart.mil import AGGREGATORS, Bags, MILClassifier
from headstart.mil.regularizers import create_regularizer
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    check_names,
    option,
    register_protocol,
)
from headstart.protocol.results import FIT_SECONDS, Results, store_label

ATTENTION_FILE = "attention.safetensors"  # attention_examples() next to saved results

MIL_METRICS = ("accuracy", "balanced_accuracy", "auc")  # auc: two-class sets only


def attends(aggregator: str) -> bool:
    """Whether a registered aggregator produces attention weights."""
    return bool(AGGREGATORS.create(aggregator, dim=1, attention_dim=1).attention)


def model_grid(
    models: Sequence[str], regularizers: Sequence[str], **params: Any
) -> dict[str, MILClassifier]:
    """One MILClassifier per aggregator × regularizer ("none" = plain), named
    "model+regularizer"; plug-ins that read attention skip aggregators without it."""
    estimators = {}
    for model in models:
        for regularizer in regularizers:
            plain = regularizer == "none"
            needs = not plain and create_regularizer(regularizer).needs_attention
            if needs and not attends(model):
                continue
            name = model if plain else f"{model}+{regularizer}"
            plug_ins = () if plain else (regularizer,)
            estimators[name] = MILClassifier(model, regularizers=plug_ins, **params)
    return estimators


def mil_folds(bags: Bags, folds: int, repeat: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) bag indices of one repetition."""
    labels, counts = np.unique(bags.labels, return_counts=True)  # present labels only
    if len(labels) < 2:
        raise DataError(f"{bags.name}: every bag has the same label; need two classes")
    if counts.min() < folds:
        names = list(bags.class_names)
        short = [
            f"{names[c] if 0 <= c < len(names) else c!r} ({n} bags)"
            for c, n in zip(labels, counts, strict=True)
            if n < folds
        ]
        raise DataError(
            f"{bags.name}: class(es) {', '.join(short)} have fewer bags than the {folds} folds"
        )
    dummy = np.zeros(len(bags))
    if bags.groups is not None and len(set(bags.groups)) < len(bags):
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=repeat)
        return list(splitter.split(dummy, bags.labels, bags.groups))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=repeat)
    return list(splitter.split(dummy, bags.labels))


def cross_validate_mil(
    bags: Bags,
    models: Mapping[str, Any],
    folds: int = 10,
    repeats: int = 5,
    progress: Callable[[int], None] | None = None,
) -> Results:
    """Fit a fresh clone of every model on every fold; score it on the held-out bags."""
    results = Results(
        provenance={
            "dataset": bags.name,
            "encoder": "",
            "store": store_label(bags.name, "bags"),
            "bags": len(bags),
            "folds": folds,
            "repeats": repeats,
            "test_train_ratio": 1.0 / (folds - 1),  # intervals: corrected resampled t
            "models": {name: repr(model) for name, model in models.items()},
            "protocol": "mil-cv",
        }
    )
    for repeat in range(repeats):
        for fold, (train, test) in enumerate(mil_folds(bags, folds, repeat)):
            held = bags.subset(test)
            for name, template in models.items():
                model = clone(template).set_params(random_state=repeat)
                started = time.perf_counter()
                model.fit(bags.subset(train))
                seconds = time.perf_counter() - started
                proba = model.predict_proba(held)
                predicted = model.classes_[proba.argmax(1)]
                metrics = {
                    "accuracy": float(np.mean(predicted == held.labels)),
                    "balanced_accuracy": float(balanced_accuracy_score(held.labels, predicted)),
                }
                if proba.shape[1] == 2 and len(set(held.labels)) == 2:
                    metrics["auc"] = float(roc_auc_score(held.labels, proba[:, 1]))
                results.add(name, "cv", repeat * folds + fold, {**metrics, FIT_SECONDS: seconds})
                if progress:
                    progress(1)
    return results


def attention_arrays(model: MILClassifier, bags: Bags) -> dict[str, np.ndarray]:
    """What the report's attention figure draws for `bags` under a fitted attention model:
    instances, offsets, attention, marks (instance labels, −1 when unknown), labels and
    the probability of the last class."""
    unknown = np.full(len(bags.instances), -1)
    return {
        "instances": bags.instances.astype(np.float32),
        "offsets": bags.offsets.astype(np.int64),
        "attention": np.concatenate(model.instance_scores(bags)).astype(np.float32),
        "marks": unknown if bags.instance_labels is None else bags.instance_labels,
        "labels": bags.labels.astype(np.int64),
        "probability": model.predict_proba(bags)[:, -1].astype(np.float32),
    }


def attention_examples(
    bags: Bags, models: Mapping[str, Any], folds: int = 10, n_bags: int = 6
) -> tuple[str, dict[str, np.ndarray]] | None:
    """The first attention model's `attention_arrays` on held-out bags, with its name.

    The model is refitted on the training side of the first fold of the first repetition and
    scores up to `n_bags` of that fold's test bags (all but two positive).
    """
    name = next((n for n, m in models.items() if attends(m.aggregator)), None)
    if name is None:
        return None
    train, test = mil_folds(bags, folds, 0)[0]
    model = clone(models[name]).set_params(random_state=0).fit(bags.subset(train))
    positive = bags.labels[test] == bags.labels.max()
    shown_positive = test[positive][: max(1, n_bags - 2)]  # mostly positives, a few negatives
    order = np.concatenate([shown_positive, test[~positive]])[:n_bags]
    return name, attention_arrays(model, bags.subset(order))


def save_attention(folder: str | Path, shown: tuple[str, dict[str, np.ndarray]]) -> Path:
    """`attention_examples` as safetensors next to saved results (the model name as metadata)."""
    path = Path(folder) / ATTENTION_FILE
    save_file(shown[1], str(path), metadata={"model": shown[0]})
    return path


def load_attention(folder: str | Path) -> tuple[str, dict[str, np.ndarray]] | None:
    """What `save_attention` wrote in `folder`, or None when there is nothing."""
    path = Path(folder) / ATTENTION_FILE
    if not path.is_file():
        return None
    with safe_open(str(path), "np") as saved:
        arrays = {key: saved.get_tensor(key) for key in saved.keys()}  # noqa: SIM118
        return (saved.metadata() or {}).get("model", "attention"), arrays


@dataclass
class MILSettings(Settings):
    models: list[str] = option(["attention", "gated"], "aggregators, e.g. mean,attention,gated")
    regularizers: list[str] = option(["none"], "none and/or plug-ins: none,aem,aem:0.05")
    folds: int = option(10, "folds per repetition", minimum=2)
    repeats: int = option(5, "repetitions, each with its own folds", minimum=1)
    epochs: int = option(100, "training epochs of every model", minimum=1)
    encoder: str = option("mlp", "instance encoder: mlp (vectors) or lenet (28×28 images)")
    labels: str = option(
        "", "slide labels (slide_id,label[,patient]) of a bag store or feature folder"
    )
    params: dict[str, Any] = option({}, "more MILClassifier parameters (Python)", cli=False)

    def validate(self) -> None:
        check_names(self.models, "models")
        check_names(self.regularizers, "regularizers")

    def estimators(self) -> dict[str, MILClassifier]:
        """Every aggregator × regularizer combination that applies (see `model_grid`)."""
        return model_grid(
            self.models, self.regularizers, epochs=self.epochs, encoder=self.encoder, **self.params
        )


@register_protocol
class MILCrossValidation(Protocol):
    """Repeated stratified k-fold CV of MIL models on bags, the same folds for every model."""

    name = "mil-cv"
    settings_type = MILSettings
    metrics = tuple(Metric(m) for m in MIL_METRICS)
    inputs = "bags"

    def total(self, settings: MILSettings) -> int:
        return settings.folds * settings.repeats * len(settings.estimators())

    def run(
        self, inputs: Bags, settings: MILSettings, progress: Callable[[int], None] | None = None
    ) -> Results:
        return cross_validate_mil(
            inputs, settings.estimators(), settings.folds, settings.repeats, progress
        )

    def bag_options(self, settings: MILSettings) -> dict[str, Any]:
        return {"labels": settings.labels} if settings.labels else {}

    def save_extras(self, folder: Path, inputs: Bags, settings: MILSettings) -> None:
        """The first attention model's weights on a few held-out bags, for the report."""
        shown = attention_examples(inputs, settings.estimators(), settings.folds)
        if shown is not None:
            save_attention(folder, shown)

    def heading(self, provenance: dict[str, Any]) -> str:
        return "Multiple-instance models, cross-validated on bags"
