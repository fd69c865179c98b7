"""The k-shot grid as a registered protocol: every head at every shot level over many seeds,
optionally under label noise and a long tail of the training side, and with calibration
(the engine is `protocol.evaluate.evaluate_few_shot`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from headstart.exceptions import DataError
from headstart.prompts import ClassTexts
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    check_names,
    option,
    register_protocol,
)
from headstart.protocol.corruption import Corruption
from headstart.protocol.evaluate import evaluate_few_shot
from headstart.protocol.results import Results
from headstart.protocol.sampling import ALL, SHOTS_POLICIES

PLAIN_HEADS = ["linear-probe", "gda", "gaussian-nb", "prototype", "knn", "linear-svm"]
CLASSIFICATION = (
    Metric("accuracy"),
    Metric("balanced_accuracy"),
    Metric("macro_f1"),
    Metric("nll", bounded=False, lower_is_better=True),
    Metric("ece", lower_is_better=True),
)
CALIBRATED = (
    Metric("nll_calibrated", bounded=False, lower_is_better=True),
    Metric("ece_calibrated", lower_is_better=True),
)


@dataclass
class FewShotSettings(Settings):
    heads: list[str] = option(PLAIN_HEADS, "heads, comma-separated")
    shots: list[int | str] = option([1, 2, 4, 8, 16, ALL], "shots per class (0: zero-shot)")
    seeds: int = option(20, "seeds per shot level", minimum=1)
    transforms: list[str] = option([], "l2-normalize,center,pca-whiten before the heads")
    shots_policy: str = option(
        "error",
        "classes with fewer items than a level: error, up-to (all theirs) or drop",
        choices=SHOTS_POLICIES,
    )
    calibrate: bool = option(False, "also NLL/ECE after temperature scaling on support folds")
    label_noise: list[str] = option(
        [], "training-label noise, e.g. symmetric:0.2,asymmetric:0.4 (test stays clean)"
    )
    imbalance: float | None = option(
        None, "long-tail the training side: largest/smallest class ratio", minimum=1.0
    )
    classnames: str | None = option(None, "zero-shot class names: a file or a comma list")
    templates: str | None = option(None, "prompt templates with {}: a file or 'a|b'")
    descriptions: str | None = option(None, "JSON of class → descriptors, for zero-shot")
    differential: str | None = option(None, "JSON of class → other class → texts, for fudd")
    head_params: dict[str, dict[str, Any]] | None = option(None, "per-head parameters", cli=False)
    texts: ClassTexts | None = option(None, "class texts (Python) for zero-shot heads", cli=False)

    def validate(self) -> None:
        check_names(self.heads, "heads")
        if self.shots_policy not in SHOTS_POLICIES:
            raise DataError(
                f"setting shots-policy = {self.shots_policy!r}: choose from "
                f"{', '.join(SHOTS_POLICIES)}"
            )
        self.conditions()  # label-noise specs are checked here, before any work
        given = [
            n
            for n in ("classnames", "templates", "descriptions", "differential")
            if getattr(self, n)
        ]
        if self.texts is not None and given:
            raise DataError(f"setting texts and {given[0]} both give class texts; give one")

    def class_texts(self) -> ClassTexts:
        """The class texts of zero-shot heads: `texts`, else parsed from the string settings."""
        if self.texts is not None:
            return self.texts
        return ClassTexts.parse(
            self.classnames, self.templates, self.descriptions, self.differential
        )

    def corruption(self) -> dict[str, Any] | None:
        if not self.label_noise and self.imbalance is None:
            return None
        return {
            "label_noise": list(self.label_noise),
            "imbalance": self.imbalance,
            "applies_to": "training labels only; the test set is untouched",
        }

    def conditions(self) -> list[Corruption | None]:
        """Each label-noise setting is its own condition (rows never pair across them);
        the long tail applies under every one."""
        return [Corruption(n, self.imbalance) for n in self.label_noise] or [
            Corruption(None, self.imbalance) if self.imbalance is not None else None
        ]


@register_protocol
class FewShot(Protocol):
    """The k-shot grid: every head at every shot level over seeds, test touched once a fit."""

    name = "few-shot"
    settings_type = FewShotSettings
    metrics = CLASSIFICATION + CALIBRATED
    composes = "label noise and a long tail of the training side; calibration"
    uses_views = True

    def total(self, settings: FewShotSettings) -> int:
        plain = settings.conditions()[0] is None
        levels = sum(
            1 if s == 0 or (s == ALL and plain) else settings.seeds for s in settings.shots
        )
        return len(settings.heads) * levels * len(settings.conditions())

    def run(
        self,
        inputs: StoreInputs,
        settings: FewShotSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        models = inputs.build(
            settings.heads, settings.head_params, settings.transforms, settings.class_texts()
        )
        merged: Results | None = None
        for corruption in settings.conditions():
            results = evaluate_few_shot(
                *inputs.arrays(),
                models,
                shots=settings.shots,
                seeds=settings.seeds,
                dataset=inputs.dataset,
                encoder=inputs.encoder,
                class_names=inputs.class_names,
                store=inputs.label,
                progress=progress,
                views_train=inputs.views_train,
                shots_policy=settings.shots_policy,
                calibrate=settings.calibrate,
                corruption=corruption,
            )
            if merged is None:
                merged = results
            else:
                merged.extend(results, f"condition {corruption.label()}")
        return merged
