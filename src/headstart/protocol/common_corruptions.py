"""Robustness to common corruptions (Hendrycks & Dietterich 2019, ImageNet-C): heads fitted on
clean training rows, scored on the clean test rows and on the same rows under each corruption
at each severity (corrupted stores, built by the workflow; the training side is never
corrupted).

Per head and seed: clean accuracy (`accuracy`: the test images taken through the same resize
and crop as the corrupted ones, uncorrupted; `store_accuracy`: the store's own test rows),
accuracy per corruption × severity (`accuracy/NAME/S`),
the mean corruption accuracy over ImageNet-C's 15 benchmark corruptions asked (and over the 4
extra ones, apart), the relative drop (clean − mean) / clean, and — given a baseline encoder,
fitted with the same head on the same rows — Hendrycks's mCE and relative mCE:
CE_c = Σ_s E(c, s) / Σ_s E_base(c, s), relative CE_c = Σ_s (E(c, s) − E_clean) /
Σ_s (E_base(c, s) − E_base,clean), each averaged over the benchmark corruptions asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from headstart.datasets.corrupted import CLEAN, CorruptionRecipe
from headstart.datasets.corruptions import CORRUPTIONS, FAMILIES, SEVERITIES
from headstart.exceptions import DataError
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    check_names,
    option,
    register_protocol,
)
from headstart.protocol.results import Results
from headstart.protocol.sampling import ALL, check_shots, k_shot_indices

BENCHMARK_FAMILIES = ("noise", "blur", "weather", "digital")  # ImageNet-C's 15
GROUPS = {"all", "benchmark", "extra", *BENCHMARK_FAMILIES}


def corruption_names(asked: list[str]) -> list[str]:
    """Corruption names from names, families, "benchmark" (the 15), "extra" or "all", in
    the registry's order; an unknown name fails with suggestions."""
    chosen: set[str] = set()
    for name in asked:
        if name == "all":
            chosen |= set(FAMILIES)
        elif name == "benchmark":
            chosen |= {c for c, f in FAMILIES.items() if f in BENCHMARK_FAMILIES}
        elif name in GROUPS:
            chosen |= {c for c, f in FAMILIES.items() if f == name}
        else:
            CORRUPTIONS.entry(name)
            chosen.add(name)
    return [c for c in CORRUPTIONS.names() if c in chosen]


@dataclass
class CorruptionSettings(Settings):
    heads: list[str] = option(["linear-probe"], "heads, comma-separated")
    shots: list[int | str] = option([ALL], "shots per class to fit on (all: every training row)")
    seeds: int = option(3, "seeds per shot level", minimum=1)
    corruptions: list[str] = option(
        ["all"], "all, benchmark (ImageNet-C's 15), extra, noise, blur, weather, digital, or names"
    )
    severities: list[int] = option(list(SEVERITIES), "severities 1–5, e.g. 1-5 or 1,3,5")
    corruption_size: int = option(
        224, "side test images are corrupted at (ImageNet-C: 224; 0: their own)", minimum=0
    )
    corruption_seed: int = option(0, "seed of the corruptions (per item, corruption, severity)")
    baseline: str | None = option(None, "encoder normalising mCE (Hendrycks: AlexNet)")
    transforms: list[str] = option([], "l2-normalize,center,pca-whiten before the heads")
    head_params: dict[str, dict[str, Any]] | None = option(None, "per-head parameters", cli=False)

    def validate(self) -> None:
        check_names(self.heads, "heads")
        if not self.corruptions:
            raise DataError("setting corruptions: give at least one corruption or 'all'")
        corruption_names(self.corruptions)
        outside = [s for s in self.severities if s not in SEVERITIES]
        if outside or not self.severities:
            raise DataError(
                f"setting severities = {self.severities}: corruption severities are 1 to 5"
            )
        if 0 < self.corruption_size < 32:
            raise DataError(
                f"setting corruption-size = {self.corruption_size}: the corruptions are "
                "defined for images of at least 32 × 32 pixels (0: each image's own size)"
            )

    def recipes(self) -> list[CorruptionRecipe]:
        """The clean reference (rendered as the corrupted images are, uncorrupted), then every
        corruption at every severity."""
        size = self.corruption_size or None
        return [CorruptionRecipe(CLEAN, 0, size, self.corruption_seed)] + [
            CorruptionRecipe(name, severity, size, self.corruption_seed)
            for name in corruption_names(self.corruptions)
            for severity in sorted(set(self.severities))
        ]


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X) == y))


def _scores(model: Any, inputs: StoreInputs, rows: np.ndarray) -> dict[str, float]:
    """Accuracy of `model`, fitted on training rows `rows`, on the store's own test rows
    (`store_accuracy`), on the clean reference (`accuracy`: the test images brought to the
    corruption size, uncorrupted) and under every corruption."""
    model.fit(inputs.X_train[rows], inputs.y_train[rows])
    out = {"store_accuracy": _accuracy(model, inputs.X_test, inputs.y_test)}
    for condition, X in inputs.shifted.items():
        name = "accuracy" if condition == f"{CLEAN}/0" else f"accuracy/{condition}"
        out[name] = _accuracy(model, X, inputs.y_test)
    return out


def summarise(
    scores: dict[str, float], baseline: dict[str, float] | None, names: list[str], severities
) -> dict[str, float]:
    """Mean corruption accuracy, relative drop and (with a baseline) mCE and relative mCE."""
    benchmark = [c for c in names if FAMILIES[c] in BENCHMARK_FAMILIES]
    extra = [c for c in names if FAMILIES[c] == "extra"]
    benchmark = benchmark or extra  # only extra ones asked: the mean and mCE are over them
    out = {}

    def mean_over(chosen: list[str]) -> float:
        return float(np.mean([scores[f"accuracy/{c}/{s}"] for c in chosen for s in severities]))

    if benchmark:
        out["corruption_accuracy"] = mean_over(benchmark)
        clean = scores["accuracy"]
        out["relative_drop"] = (clean - out["corruption_accuracy"]) / clean if clean else np.nan
    if extra:
        out["extra_corruption_accuracy"] = mean_over(extra)
    if baseline is not None and benchmark:
        ce, relative = [], []
        for c in benchmark:
            mine = [1 - scores[f"accuracy/{c}/{s}"] for s in severities]
            theirs = [1 - baseline[f"accuracy/{c}/{s}"] for s in severities]
            ce.append(sum(mine) / sum(theirs) if sum(theirs) > 0 else np.nan)
            rise = sum(e - (1 - scores["accuracy"]) for e in mine)
            base_rise = sum(e - (1 - baseline["accuracy"]) for e in theirs)
            relative.append(rise / base_rise if base_rise > 0 else np.nan)
        # a corruption the baseline is not hurt by has no CE: left out of the mean
        out["mce"] = float(np.nanmean(ce)) if np.isfinite(ce).any() else np.nan
        out["relative_mce"] = float(np.nanmean(relative)) if np.isfinite(relative).any() else np.nan
        out["baseline_corruption_accuracy"] = float(
            np.mean([baseline[f"accuracy/{c}/{s}"] for c in benchmark for s in severities])
        )
    return out


@register_protocol
class Corruptions(Protocol):
    """Accuracy under ImageNet-C's corruptions at severities 1–5: mean, drop, mCE vs a baseline."""

    name = "corruptions"
    title = "Robustness of heads on {encoder} features to common corruptions"
    settings_type = CorruptionSettings
    metrics = (
        Metric("accuracy"),
        Metric("store_accuracy"),
        Metric("corruption_accuracy"),
        Metric("extra_corruption_accuracy"),
        Metric("relative_drop", bounded=False, lower_is_better=True),
        Metric("mce", bounded=False, lower_is_better=True),
        Metric("relative_mce", bounded=False, lower_is_better=True),
        Metric("baseline_corruption_accuracy"),
    )
    main_metric = "corruption_accuracy"
    figure = "severity"  # the report's main figure
    composes = "the store's test rows, corrupted (derived stores, cached)"

    def total(self, settings: CorruptionSettings) -> int:
        fits = 2 if settings.baseline else 1
        return (
            len(settings.heads)
            * sum(1 if s == ALL else settings.seeds for s in settings.shots)
            * fits
        )

    def shifts(self, settings: CorruptionSettings) -> list[CorruptionRecipe]:
        return settings.recipes()

    def run(
        self,
        inputs: StoreInputs,
        settings: CorruptionSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        names = corruption_names(settings.corruptions)
        severities = sorted(set(settings.severities))
        if settings.baseline and inputs.baseline is None:
            raise DataError("the baseline's inputs were not built (run through the workflow)")
        check_shots(inputs.y_train, settings.shots, "error", inputs.class_names)
        results = inputs.results(
            seeds=settings.seeds,
            n_test=len(inputs.y_test),
            corruptions=names,
            severities=severities,
            corruption_size=settings.corruption_size or "each image's own",
            baseline=settings.baseline,
            mean_over="ImageNet-C's benchmark corruptions asked (noise, blur, weather, digital); "
            "the extra ones when only they are asked",
            clean_reference="accuracy: the test images brought to the corruption size, "
            "uncorrupted (store_accuracy: the store's own test rows)",
            families={name: FAMILIES[name] for name in names},
        )
        for shots in settings.shots:
            for seed in range(1 if shots == ALL else settings.seeds):  # all: one fit
                rows = k_shot_indices(inputs.y_train, shots, seed)
                models = inputs.build(settings.heads, settings.head_params, settings.transforms)
                others = (
                    inputs.baseline.build(settings.heads, settings.head_params, settings.transforms)
                    if inputs.baseline is not None
                    else {}
                )
                for head, model in models.items():
                    scores = _scores(model, inputs, rows)
                    if progress:
                        progress(1)
                    base = None
                    if head in others:
                        base = _scores(others[head], inputs.baseline, rows)
                        if progress:
                            progress(1)
                    summary = summarise(scores, base, names, severities)
                    results.add(head, shots, seed, {**scores, **summary})
        return results
