"""The base → novel protocol for adaptation: per seed, a seeded share of the classes is
"base"; an adapter is trained on the base classes' training rows only (their labels, views or
neighbours, per its settings); then k-shot heads are evaluated on the *novel* classes, on the
frozen features and on the adapted ones, with the same seed's samples — so every adapted head
is paired with its frozen self. Novel-class labels reach nothing but the k shots.

The unlabelled variant adapts on every training row (base and novel classes) with no label
at all — neighbours or views make the positives — as a user with an unlabelled pool would;
the heads are then evaluated on the same novel classes as the labelled variant."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from headstart.adapt.train import AdaptSettings, fit_adapter
from headstart.exceptions import DataError
from headstart.protocol.base import (
    Protocol,
    Settings,
    StoreInputs,
    check_names,
    option,
    register_protocol,
)
from headstart.protocol.evaluate import evaluate_few_shot
from headstart.protocol.few_shot import CLASSIFICATION
from headstart.protocol.results import Results

ADAPT_FIELDS = tuple(f.name for f in dataclasses.fields(AdaptSettings))


@dataclass
class BaseNovelSettings(Settings):
    loss: str = option("info-nce", "the adapter's loss (headstart adapt's --loss)")
    adapt_options: dict[str, Any] = option(
        {}, "adapter training setting key=value, e.g. batch_size=64 epochs=20", kind="pairs"
    )
    heads: list[str] = option(["prototype", "linear-probe"], "heads, comma-separated")
    shots: list[int | str] = option([1, 5, 16], "shots per novel class")
    seeds: int = option(10, "seeds: each draws its own base classes", minimum=1)
    base_fraction: float = option(0.5, "share of the classes that are base classes")
    unlabelled: bool = option(
        False, "adapt on the whole training split without labels instead of base classes"
    )

    def validate(self) -> None:
        check_names(self.heads, "heads")
        unknown = sorted(k for k in self.adapt_options if k not in ADAPT_FIELDS or k == "loss")
        if unknown:
            raise DataError(
                f"unknown adapt option {unknown[0]!r}; known: "
                f"{', '.join(f for f in ADAPT_FIELDS if f != 'loss')}"
            )
        if not 0 < self.base_fraction < 1:
            raise DataError(f"setting base-fraction = {self.base_fraction}: must be in (0, 1)")
        if 0 in self.shots:
            raise DataError("setting shots: novel classes need labelled shots (not 0)")

    def adapter(self) -> AdaptSettings:
        """The adapter's training settings."""
        return AdaptSettings(loss=self.loss, **self.adapt_options)


@register_protocol
class BaseNovel(Protocol):
    """Base → novel: an adapter trained on base classes, k-shot heads on novel ones, paired."""

    name = "base-novel"
    title = "Novel classes: heads on frozen and adapted {encoder} features, paired"
    settings_type = BaseNovelSettings
    metrics = CLASSIFICATION

    def total(self, settings: BaseNovelSettings) -> int:
        return 2 * len(settings.heads) * len(settings.shots) * settings.seeds

    def run(
        self,
        inputs: StoreInputs,
        settings: BaseNovelSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        X_train, y_train, X_test, y_test = inputs.arrays()
        adapt = settings.adapter()
        classes = np.unique(y_train)
        n_base = round(settings.base_fraction * len(classes))
        if not 1 <= n_base <= len(classes) - 2:
            raise DataError(
                f"--base-fraction {settings.base_fraction} leaves {n_base} base and "
                f"{len(classes) - n_base} novel classes of {len(classes)}; both sides need "
                "classes (novel at least 2)"
            )
        pool = "the unlabelled training split" if settings.unlabelled else "base classes"
        label = f"{inputs.label} · novel classes · adapted by {adapt.loss} on {pool}"
        models = inputs.build(settings.heads, None, ())
        merged: Results | None = None
        for seed in range(settings.seeds):
            rng = np.random.default_rng(seed)
            base = np.sort(rng.choice(classes, n_base, replace=False))
            novel = np.setdiff1d(classes, base)
            seeded = replace(adapt, seed=seed)
            if settings.unlabelled:
                adapter, _ = fit_adapter(X_train, None, seeded)
            else:
                on_base = np.isin(y_train, base)
                adapter, _ = fit_adapter(
                    X_train[on_base], np.searchsorted(base, y_train[on_base]), seeded
                )
            train_rows, test_rows = np.isin(y_train, novel), np.isin(y_test, novel)
            with torch.no_grad():
                mapped = [
                    adapter(torch.as_tensor(X[rows], dtype=torch.float32)).numpy()
                    for X, rows in ((X_train, train_rows), (X_test, test_rows))
                ]
            for features, suffix in (
                ((X_train[train_rows], X_test[test_rows]), ""),
                (mapped, f" · {adapt.loss}"),
            ):
                part = evaluate_few_shot(
                    features[0],
                    np.searchsorted(novel, y_train[train_rows]),
                    features[1],
                    np.searchsorted(novel, y_test[test_rows]),
                    {f"{h}{suffix}": model for h, model in models.items()},
                    shots=settings.shots,
                    seeds=1,
                    dataset=inputs.dataset,
                    encoder=inputs.encoder,
                    class_names=[inputs.class_names[c] for c in novel]
                    if inputs.class_names
                    else (),
                    store=label,
                    progress=progress,
                    first_seed=seed,
                )
                if merged is None:
                    merged = part
                else:
                    merged.rows.extend(part.rows)
                    merged.chosen.extend(part.chosen)
        merged.provenance.update(
            {
                "adapt": {
                    "settings": adapt.__dict__,
                    "base_fraction": settings.base_fraction,
                    "unlabelled": settings.unlabelled,
                },
                "class_names": [],  # novel classes differ per seed
                "seeds": settings.seeds,
            }
        )
        return merged
