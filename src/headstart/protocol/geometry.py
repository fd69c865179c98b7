"""The shape of a representation, label-free and label-aware, on the test split: alignment
and uniformity (Wang & Isola 2020), tolerance (Wang & Liu 2021), class separability (the
adapt metrics, `headstart.adapt.metrics`), and the inductive bias the task demands of a
kernel on it (Boopathy et al. 2024; `protocol.inductive_bias`).

Alignment needs positive pairs: a training item and one of its stored augmented views when
the store has views (only non-test items are augmented), else two random test items of the
same class (class alignment) — the provenance says which.
Each seed redraws the pairs and the class-balanced rows of the inductive-bias kernel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from headstart.adapt.metrics import alignment, separability, tolerance, uniformity
from headstart.exceptions import DataError
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    option,
    register_protocol,
)
from headstart.protocol.inductive_bias import inductive_bias_bits
from headstart.protocol.results import Results

SAME_CLASS = "two random items of the same class (class alignment)"
VIEWS = "a training item and a random one of its stored augmented views"


def balanced_rows(y: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `total` rows, as even across classes as their sizes allow, sorted."""
    classes = np.unique(y)
    per = max(1, total // len(classes))
    chosen = [
        rng.choice(pool, size=min(per, len(pool)), replace=False)
        for pool in (np.flatnonzero(y == c) for c in classes)
    ]
    return np.sort(np.concatenate(chosen))


def same_class_pairs(y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every row of a class with ≥ 2 rows, each paired with another random row of its class."""
    first, second = [], []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        if len(pool) < 2:
            continue
        partner = rng.integers(0, len(pool) - 1, len(pool))
        partner += partner >= np.arange(len(pool))  # never itself
        first.append(pool)
        second.append(pool[partner])
    if not first:
        raise DataError("alignment needs a class with at least two test rows")
    return np.concatenate(first), np.concatenate(second)


@dataclass
class GeometrySettings(Settings):
    seeds: int = option(3, "draws of pairs and kernel rows", minimum=1)
    kernel_train: int = option(300, "training rows of the inductive-bias kernel", minimum=2)
    kernel_test: int = option(100, "test rows scored by the sampled functions", minimum=1)
    target_error: float = option(0.01, "test MSE (one-hot targets) the bias is measured at")
    samples: int = option(10_000, "functions sampled per seed (official: 10,000)", minimum=100)

    def validate(self) -> None:
        if not self.target_error > 0:
            raise DataError(f"setting target-error = {self.target_error}: must be > 0")


@register_protocol
class Geometry(Protocol):
    """Alignment, uniformity, tolerance, separability and kernel inductive bias of the features."""

    name = "geometry"
    title = "The geometry of {encoder} features: alignment, uniformity, inductive bias"
    settings_type = GeometrySettings
    metrics = (
        Metric("inductive_bias_bits", bounded=False, lower_is_better=True),
        Metric("alignment", bounded=False, lower_is_better=True),
        Metric("uniformity", bounded=False, lower_is_better=True),
        Metric("tolerance", bounded=False),
        Metric("separability", bounded=False),
        Metric("sampled_mse", bounded=False, lower_is_better=True),
        Metric("posterior_mean_mse", bounded=False, lower_is_better=True),
    )
    main_metric = "inductive_bias_bits"
    uses_views = True

    def total(self, settings: GeometrySettings) -> int:
        return settings.seeds

    def run(
        self,
        inputs: StoreInputs,
        settings: GeometrySettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        X_train, y_train, X_test, y_test = inputs.arrays()
        n_classes = len(inputs.class_names)
        results = inputs.results(
            seeds=settings.seeds,
            n_test=len(y_test),
            positive_pairs=SAME_CLASS if inputs.views_train is None else VIEWS,
            inductive_bias=(
                "kernel version, RBF σ = 1 on unit rows, direct solve (not Adam), bits"
            ),
            families={"geometry": "distance"},
        )
        for seed in range(settings.seeds):
            rng = np.random.default_rng(seed)
            if inputs.views_train is not None:
                views = inputs.views_train
                pick = rng.integers(1, views.shape[1], len(views))
                positive = alignment(views[:, 0], views[np.arange(len(views)), pick])
            else:
                i, j = same_class_pairs(y_test, rng)
                positive = alignment(X_test[i], X_test[j])
            train = balanced_rows(y_train, settings.kernel_train, rng)
            test = balanced_rows(y_test, settings.kernel_test, rng)
            metrics = {
                "alignment": positive,
                "uniformity": uniformity(X_test, seed=seed),
                "tolerance": tolerance(X_test, y_test),
                "separability": separability(X_test, y_test),
                **inductive_bias_bits(
                    X_train[train],
                    y_train[train],
                    X_test[test],
                    y_test[test],
                    n_classes,
                    settings.target_error,
                    settings.samples,
                    seed,
                ),
            }
            results.add("geometry", "all", seed, metrics)
            if progress:
                progress(1)
        return results
