"""Naive Bayes against logistic regression as the training set grows (Zheng et al. 2023):
test error against items per class, over repeated draws — the smallest registered protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from headstart.exceptions import DataError
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    option,
    register_protocol,
)
from headstart.protocol.evaluate import evaluate_few_shot
from headstart.protocol.results import Results


def learning_curve(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    sizes: Sequence[int] = (1, 2, 5, 10, 20, 50, 100, 200, 500),
    repeats: int = 5,
    heads: Mapping[str, BaseEstimator] | None = None,
    **kwargs: Any,
) -> Results:
    """Test error vs training size for naive Bayes and logistic regression.

    Sizes are items per class; the defaults follow the paper: shared-diagonal Gaussian NB and
    L2 logistic regression with C = 1. Sizes larger than the smallest class are dropped.
    """
    from headstart.heads import GaussianNB, LinearProbe

    heads = heads or {"gaussian-nb": GaussianNB(), "logistic-regression": LinearProbe(C=1.0)}
    counts = np.bincount(y_train)
    smallest = int(counts[counts > 0].min())
    usable = [s for s in sizes if s <= smallest]
    if not usable:
        raise DataError(
            f"sizes {list(sizes)}: every one exceeds the smallest class's {smallest} training "
            f"items; give sizes ≤ {smallest}"
        )
    results = evaluate_few_shot(
        X_train, y_train, X_test, y_test, heads, shots=usable, seeds=repeats, **kwargs
    )
    results.provenance["protocol"] = "learning-curve"
    return results


@dataclass
class LearningCurveSettings(Settings):
    sizes: list[int] = option([1, 2, 5, 10, 20, 50, 100, 200], "training items per class")
    repeats: int = option(5, "draws per size", minimum=1)

    def validate(self) -> None:
        if not self.sizes or min(self.sizes) < 1:
            raise DataError(f"setting sizes = {self.sizes}: give sizes ≥ 1 (items per class)")


@register_protocol
class LearningCurve(Protocol):
    """Naive Bayes vs logistic regression: accuracy against training items per class."""

    name = "learning-curve"
    settings_type = LearningCurveSettings
    metrics = (Metric("accuracy"), Metric("nll", bounded=False, lower_is_better=True))

    def total(self, settings: LearningCurveSettings) -> int:
        return 2 * len(settings.sizes) * settings.repeats

    def run(
        self,
        inputs: StoreInputs,
        settings: LearningCurveSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        return learning_curve(
            *inputs.arrays(),
            settings.sizes,
            settings.repeats,
            dataset=inputs.dataset,
            encoder=inputs.encoder,
            class_names=inputs.class_names,
            store=inputs.label,
            progress=progress,
        )

    def heading(self, provenance: dict[str, Any]) -> str:
        return "Naive Bayes vs logistic regression: test error against training size"
