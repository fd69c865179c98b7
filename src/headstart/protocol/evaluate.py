"""The few-shot protocol: k shots per class over many seeds, test touched once per fitted head.

Hyper-parameters are chosen inside each head's `fit` from the sampled training items only
(inner cross-validation); the test labels are used for nothing but the metrics.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import confusion_matrix

from headstart.exceptions import DataError
from headstart.heads.tags import head_tags
from headstart.heads.views import final_step, fit_with_views, uses_views
from headstart.openset.calibration import TemperatureScaling
from headstart.protocol.corruption import Corruption
from headstart.protocol.metrics import METRICS, calibration_bins, classification_metrics
from headstart.protocol.results import FIT_SECONDS, Results, result_key, store_label, versions
from headstart.protocol.sampling import ALL, check_shots, k_shot_indices, short_classes

# fitted attributes that record a hyper-parameter chosen on training data
CHOSEN = ("C_", "alpha_", "beta_")
UNLABELLED = -1


def _full_proba(model: BaseEstimator, X: np.ndarray, n_classes: int) -> np.ndarray:
    """predict_proba placed in columns 0..n_classes−1 by the model's `classes_`."""
    return _placed(model, model.predict_proba(X), n_classes)


def _placed(model: BaseEstimator, proba: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over the model's `classes_` placed in columns 0..n_classes−1."""
    full = np.zeros((len(proba), n_classes))
    full[:, np.asarray(model.classes_, dtype=np.int64)] = proba
    return full


def _texts(model: BaseEstimator) -> Any:
    """The class text embeddings of a text-conditioned head (its `class_embeddings`)."""
    return final_step(model).get_params()["class_embeddings"]


def _chosen(model: BaseEstimator) -> dict[str, Any]:
    final = final_step(model)
    return {name.rstrip("_"): getattr(final, name) for name in CHOSEN if hasattr(final, name)}


def runs_at(template: BaseEstimator, shot: int | str) -> bool:
    """Whether a head has a result at this shot level: at 0 shots only label-free heads
    with class texts; a label-free head learns nothing from labelled items, so only there
    (heads that learn from unlabelled data run at every level)."""
    tags = head_tags(template)
    if tags.transductive:
        return True
    if shot == 0:
        return tags.label_free and tags.text_conditioned and _texts(template) is not None
    return not tags.label_free


def _fit_at(
    template: BaseEstimator,
    shot: int | str,
    index: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    views: np.ndarray | None = None,
) -> BaseEstimator | None:
    """A clone fitted on the k-shot sample `index` of the training split (None: the head
    cannot run at this shot level). A head that uses views gets those of the sampled items
    only (`views` is aligned with the training rows).

    Heads that learn from unlabelled data (tagged `transductive`) get the whole training split,
    labelled only at `index` (−1 elsewhere). At 0 shots only label-free heads run; a
    zero-shot head is fitted on its class text embeddings, one per class, and runs at no
    other level (labelled items would not change it).
    """
    if not runs_at(template, shot):
        return None
    model = clone(template)
    if head_tags(template).transductive:
        masked = np.full(len(y), UNLABELLED)
        masked[index] = y[index]
        return model.fit(X, masked)
    if shot == 0:
        texts = _texts(template)
        return model.fit(np.asarray(texts), np.arange(len(texts)))
    return fit_with_views(model, X[index], y[index], None if views is None else views[index])


def evaluate_few_shot(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    heads: Mapping[str, BaseEstimator],
    shots: Sequence[int | str] = (1, 2, 4, 8, 16, ALL),
    seeds: int = 20,
    dataset: str = "",
    encoder: str = "",
    class_names: Sequence[str] = (),
    confusion_for: tuple[str, int | str] | None = None,
    progress: Callable[[int], None] | None = None,
    views_train: np.ndarray | None = None,
    shots_policy: str = "error",
    store: str = "",
    calibrate: bool = False,
    corruption: Corruption | None = None,
    first_seed: int = 0,
) -> Results:
    """Fit every head on k-shot samples of the training set and score it on the test set.

    Labels are integers 0..K−1. "all" uses the whole training set once (seed 0): it has no
    sampling variance to average over; neither has 0 shots, where only label-free heads
    (zero-shot, TFUP) run. `views_train` (n_train, v, d): augmented views of the training
    rows, handed to the heads that use them (for their sampled items only); other heads are
    fitted on the plain rows, as without views, and the provenance says which did what.
    Test items are never augmented. `shots_policy` says what a level does with classes that
    have fewer training items than it asks for: "error" (checked for every level before any
    work), "up-to" (all their items) or "drop" (left out of that level's training and
    scoring); the provenance lists those classes per level. `store` names the feature space
    (default: dataset · encoder); every row carries it, with the seconds each fit took.
    `calibrate`: also score every head after temperature scaling fitted on held-out folds of
    its own support items (metrics `nll_calibrated`, `ece_calibrated`; T in the chosen
    hyper-parameters); heads fitted without labelled items are left as they are.
    `corruption`: per seed, a long tail and/or label noise applied to the training side
    only (the shots are then drawn from the noisy labels, as a user would see them); "all"
    then runs every seed, as each seed corrupts differently; the store label names it.
    `first_seed`: seeds run from it (a caller that varies something else per seed, such as
    the base/novel class split of adaptation, calls once per seed).
    """
    first = corruption.apply(y_train, 0)[1] if corruption else y_train
    short = check_shots(first, list(shots), shots_policy, list(class_names))
    if not any(runs_at(model, shot) for model in heads.values() for shot in shots):
        raise DataError(
            f"no head among {sorted(heads)} has a result at shots {[str(s) for s in shots]}: "
            "at 0 shots only zero-shot heads with class texts run, and zero-shot heads run "
            "only at 0 shots"
        )
    if views_train is not None and views_train.shape[:1] + views_train.shape[2:] != X_train.shape:
        raise ValueError(
            f"views_train has shape {views_train.shape}; expected ({len(X_train)}, v, "
            f"{X_train.shape[1]}) to match X_train"
        )
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    results = Results(
        provenance={
            "dataset": dataset,
            "encoder": encoder,
            "store": " · ".join(
                filter(
                    None,
                    [store or store_label(dataset, encoder), corruption and corruption.label()],
                )
            ),
            "seeds": seeds,
            "shots": [str(s) for s in shots],
            "heads": {name: repr(model) for name, model in heads.items()},
            "families": {n: head_tags(m).family for n, m in heads.items()},
            "n_train": len(y_train),
            "n_test": len(y_test),
            "class_names": list(class_names),
            "versions": versions(),
            "python": platform.python_version(),
            "shots_policy": shots_policy,
            "short_classes": short,
            "views": 1 if views_train is None else int(views_train.shape[1]),
            "heads_using_views": []
            if views_train is None
            else [name for name, model in heads.items() if uses_views(model)],
        }
    )
    if corruption:
        results.provenance["training_corruption"] = {
            "noise": corruption.noise,
            "imbalance": corruption.imbalance,
            "applies_to": "training labels only; the test set is untouched",
        }
    dropped = short_classes(first, list(shots)) if shots_policy == "drop" else {}
    for shot in shots:
        scored = ~np.isin(y_test, dropped.get(str(shot), []))  # test items of kept classes
        once = shot == 0 or (shot == ALL and corruption is None)
        for seed in [first_seed] if once else range(first_seed, first_seed + seeds):
            X_fit, y_fit, views_fit = X_train, y_train, views_train
            if corruption:  # a copy of the kept rows only when something was corrupted
                kept, y_fit = corruption.apply(y_train, seed)
                X_fit = X_train[kept]
                views_fit = None if views_train is None else views_train[kept]
            index = k_shot_indices(y_fit, shot, seed, shots_policy)
            for name, template in heads.items():
                started = time.perf_counter()
                model = _fit_at(template, shot, index, X_fit, y_fit, views_fit)
                if model is None:
                    continue
                seconds = time.perf_counter() - started
                proba = _full_proba(model, X_test[scored], n_classes)  # the one look at test
                metrics = classification_metrics(proba, y_test[scored])
                chosen = _chosen(model)
                if calibrate and shot != 0 and not head_tags(model).label_free:
                    scaling = TemperatureScaling().fit(template, X_fit[index], y_fit[index])
                    calibrated = _placed(
                        model, scaling.probabilities(model, X_test[scored]), n_classes
                    )
                    after = classification_metrics(calibrated, y_test[scored])
                    metrics.update(nll_calibrated=after["nll"], ece_calibrated=after["ece"])
                    chosen["temperature"] = scaling.temperature_
                results.add(name, shot, seed, {**metrics, FIT_SECONDS: seconds})
                results.chosen.append(
                    {
                        "store": results.store,
                        "head": name,
                        "shots": str(shot),
                        "seed": seed,
                        **chosen,
                    }
                )
                if seed == 0:
                    _remember(results, name, shot, proba, y_test[scored], n_classes, confusion_for)
                if progress:
                    progress(1)
    return results


def _remember(
    results: Results,
    head: str,
    shot: int | str,
    proba: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    confusion_for: tuple[str, Any] | None,
) -> None:
    """Keep seed 0's confusion matrix (for the chosen head and shots) and reliability bins."""
    key = result_key(results.store, head, shot)
    if confusion_for is None or (confusion_for[0] == head and str(confusion_for[1]) == str(shot)):
        results.confusion[key] = confusion_matrix(
            y, proba.argmax(1), labels=range(n_classes)
        ).tolist()
    results.reliability[key] = calibration_bins(proba, y, bins=10)


__all__ = ["METRICS", "evaluate_few_shot"]
