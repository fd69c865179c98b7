"""The open-set protocol: per seed a random subset of the classes is held out as unknown;
every head sees k shots of the known classes only, every open-set score is fitted on that
support set, and the whole test set is scored — known classes' items against the held-out
classes' items (and, optionally, a far out-of-distribution set from another store).

Rows name the pair "head · score" so scores are compared on the same seeds (same unknown
classes, same support items); metrics are AUROC, AUPR-in/out, FPR@95TPR, OSCR and the
closed-set accuracy on the known classes. Every shot level runs every seed: the choice of
unknown classes varies with the seed even when all labels are used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from headstart.exceptions import DataError
from headstart.openset.calibration import TemperatureScaling
from headstart.openset.metrics import open_set_metrics
from headstart.openset.scores import create_score
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    check_names,
    option,
    register_protocol,
)
from headstart.protocol.metrics import classification_metrics
from headstart.protocol.results import Results, result_key, store_label
from headstart.protocol.sampling import k_shot_indices

DEFAULT_SCORES = ("msp", "mls", "energy", "mahalanobis", "relative-mahalanobis", "knn")
KEPT_ITEMS = 2000  # per-item scores kept (seed 0) for the report's histograms and curves


def unknown_classes(n_classes: int, fraction: float, seed: int) -> np.ndarray:
    """The classes held out as unknown for one seed: round(fraction·K), at least one, and at
    least two classes left known."""
    count = max(1, round(fraction * n_classes))
    if not 0 < fraction < 1 or n_classes - count < 2:
        raise DataError(
            f"unknown fraction {fraction} of {n_classes} classes leaves {n_classes - count} "
            "known; the open-set protocol needs at least two known and one unknown class"
        )
    return np.sort(np.random.default_rng(seed).choice(n_classes, count, replace=False))


def evaluate_open_set(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    heads: Mapping[str, BaseEstimator],
    scores: Sequence[str] = DEFAULT_SCORES,
    shots: Sequence[int | str] = (1, 4, 16, "all"),
    seeds: int = 10,
    unknown_fraction: float = 0.4,
    X_far: np.ndarray | None = None,
    dataset: str = "",
    encoder: str = "",
    class_names: Sequence[str] = (),
    store: str = "",
    progress: Callable[[int], None] | None = None,
    calibrate: bool = False,
) -> Results:
    """Every head × score at every shot level over `seeds` splits of known/unknown classes;
    `X_far` (optional) is scored as unknown beside the held-out classes (metrics `far_*`).
    `calibrate`: also the closed-set NLL and ECE on the known classes' test items, before and
    after temperature scaling fitted on held-out folds of the support items (`*_calibrated`)."""
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    scorers = {name: create_score(name) for name in scores}  # unknown names fail here
    results = Results(
        provenance={
            "protocol": "open-set",
            "dataset": dataset,
            "encoder": encoder,
            "store": store or store_label(dataset, encoder),
            "seeds": seeds,
            "shots": [str(s) for s in shots],
            "heads": {name: repr(model) for name, model in heads.items()},
            "scores": list(scorers),
            "families": {f"{h} · {s}": s for h in heads for s in scorers},  # panels per score
            "unknown_fraction": unknown_fraction,
            "unknown_classes": {},
            "far_items": 0 if X_far is None else len(X_far),
            "n_train": len(y_train),
            "n_test": len(y_test),
            "class_names": list(class_names),
        }
    )
    for seed in range(seeds):
        unknown = unknown_classes(n_classes, unknown_fraction, seed)
        results.provenance["unknown_classes"][str(seed)] = unknown.tolist()
        known_rows = np.flatnonzero(~np.isin(y_train, unknown))
        is_unknown = np.isin(y_test, unknown)
        for shot in shots:
            index = known_rows[k_shot_indices(y_train[known_rows], shot, seed)]
            X_support, y_support = X_train[index], y_train[index]
            for name, template in heads.items():
                model = clone(template).fit(X_support, y_support)
                correct = (model.predict(X_test) == y_test) & ~is_unknown
                closed = {"closed_accuracy": float(correct[~is_unknown].mean())}
                if calibrate:
                    closed.update(
                        _calibration(
                            template, model, X_support, y_support, X_test, y_test, ~is_unknown
                        )
                    )
                for score_name, scorer in scorers.items():
                    fitted = clone_score(scorer).fit(model, X_support, y_support)
                    values = fitted.score(X_test)
                    metrics = {**open_set_metrics(values, is_unknown, correct), **closed}
                    if X_far is not None:
                        metrics.update(
                            _far_metrics(fitted.score(X_far), values, is_unknown, correct)
                        )
                    pair = f"{name} · {score_name}"
                    results.add(pair, shot, seed, metrics)
                    if seed == 0:
                        _keep(results, pair, shot, values, is_unknown, correct)
                if progress:
                    progress(1)
    return results


def _calibration(template, model, X_support, y_support, X_test, y_test, known) -> dict:
    """Closed-set NLL and ECE on the known classes' test items, before and after temperature
    scaling fitted on held-out folds of the support items (as the k-shot grid's `calibrate`)."""
    y = np.searchsorted(model.classes_, y_test[known])
    before = classification_metrics(model.predict_proba(X_test[known]), y)
    scaling = TemperatureScaling().fit(template, X_support, y_support)
    after = classification_metrics(scaling.probabilities(model, X_test[known]), y)
    return {
        "nll": before["nll"],
        "ece": before["ece"],
        "nll_calibrated": after["nll"],
        "ece_calibrated": after["ece"],
    }


def clone_score(scorer: Any) -> Any:
    """A fresh scorer with the same options (scorers keep fitted state on themselves)."""
    options = {k: v for k, v in vars(scorer).items() if not k.endswith("_") and k[0] != "_"}
    return type(scorer)(**options)


def _far_metrics(far: np.ndarray, values: np.ndarray, is_unknown: np.ndarray, correct):
    """The open-set metrics of known test items against the far out-of-distribution set."""
    known = ~is_unknown
    both = np.r_[values[known], far]
    flags = np.r_[np.zeros(known.sum(), bool), np.ones(len(far), bool)]
    right = np.r_[correct[known], np.zeros(len(far), bool)]
    return {f"far_{k}": v for k, v in open_set_metrics(both, flags, right).items()}


def _keep(results: Results, pair: str, shot, values, is_unknown, correct) -> None:
    """Seed 0's per-item scores (a fixed subsample) for histograms, ROC and rejection curves."""
    step = max(1, math.ceil(len(values) / KEPT_ITEMS))
    results.open_set[result_key(results.store, pair, shot)] = {
        "score": values[::step].tolist(),
        "unknown": is_unknown[::step].tolist(),
        "correct": correct[::step].tolist(),
    }


@dataclass
class OpenSetSettings(Settings):
    heads: list[str] = option(["gda", "prototype", "linear-probe"], "heads, comma-separated")
    shots: list[int | str] = option([1, 4, 16, "all"], "shots per known class")
    seeds: int = option(10, "seeds: each holds out other classes", minimum=1)
    scores: list[str] = option(list(DEFAULT_SCORES), "open-set scores: msp,mls,energy,...")
    unknown_fraction: float = option(0.4, "share of classes held out as unknown per seed")
    far: str | None = option(None, "a store of the same encoder, scored as far OOD")
    transforms: list[str] = option([], "l2-normalize,center,pca-whiten before the heads")
    calibrate: bool = option(False, "also closed-set NLL/ECE after temperature scaling")

    def validate(self) -> None:
        check_names(self.heads, "heads")
        check_names(self.scores, "scores")
        if not 0 < self.unknown_fraction < 1:
            raise DataError(
                f"setting unknown-fraction = {self.unknown_fraction}: must be in (0, 1)"
            )
        if 0 in self.shots:
            raise DataError("setting shots: the open-set protocol needs labelled shots (not 0)")


@register_protocol
class OpenSet(Protocol):
    """Classes held out as unknown per seed; every head × open-set score on the whole test set."""

    name = "open-set"
    settings_type = OpenSetSettings
    metrics = (
        *(
            Metric(m, lower_is_better=m == "fpr95")
            for m in ("auroc", "aupr_in", "aupr_out", "fpr95", "oscr")
        ),
        Metric("closed_accuracy"),
        *(
            Metric(f"far_{m}", lower_is_better=m == "fpr95")
            for m in ("auroc", "aupr_in", "aupr_out", "fpr95", "oscr")
        ),
        Metric("nll", bounded=False, lower_is_better=True),
        Metric("ece", lower_is_better=True),
        Metric("nll_calibrated", bounded=False, lower_is_better=True),
        Metric("ece_calibrated", lower_is_better=True),
    )
    main_metric = "auroc"
    side_stores = ("far",)
    composes = "calibration (closed-set NLL/ECE before and after temperature scaling)"

    def total(self, settings: OpenSetSettings) -> int:
        return len(settings.heads) * len(settings.shots) * settings.seeds

    def run(
        self,
        inputs: StoreInputs,
        settings: OpenSetSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        return evaluate_open_set(
            *inputs.arrays(),
            inputs.build(settings.heads, None, settings.transforms),
            settings.scores,
            settings.shots,
            settings.seeds,
            settings.unknown_fraction,
            inputs.side.get("far"),
            inputs.dataset,
            inputs.encoder,
            inputs.class_names,
            inputs.label,
            progress,
            settings.calibrate,
        )

    def heading(self, provenance: dict[str, Any]) -> str:
        encoder = provenance.get("encoder") or "the features"
        share = provenance.get("unknown_fraction", 0.0)
        return (
            f"Open-set scores of heads fitted on {encoder} features ({share:.0%} of the "
            "classes held out as unknown per seed)"
        )
