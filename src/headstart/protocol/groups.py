"""Accuracy per group, worst-group accuracy and the largest gap (SEER's fairness protocol and
the spurious-correlation literature's worst-group accuracy), for heads on frozen features.

Groups come from a groups file (item id → one or more attributes) or the store's own group
column (e.g. colored-mnist's class × colour); `by_class` crosses each attribute with the class.
Per head and seed: overall accuracy, accuracy of every group with at least `min_group` test
rows (`accuracy/ATTRIBUTE=VALUE`), the worst of them and the gap best − worst; smaller groups
are named in the provenance and left out. Intervals are over seeds and differences between
heads are paired on the same seeds (the report's ranking). Group-aware heads (DFR, group
reweighting) learn from the training rows' groups: class × all attributes together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from headstart.datasets.group_file import read_groups
from headstart.exceptions import DataError
from headstart.heads import learns_from_groups
from headstart.heads.groups import fit_with_groups
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

STORE_COLUMN = "group"


@dataclass
class GroupSettings(Settings):
    heads: list[str] = option(["linear-probe", "dfr", "group-reweighted"], "heads, comma-separated")
    shots: list[int | str] = option([ALL], "shots per class to fit on (all: every training row)")
    seeds: int = option(5, "seeds per shot level", minimum=1)
    groups: str | None = option(None, "CSV: id,<attribute>... (default: the store's group column)")
    by_class: bool = option(False, "cross each attribute with the class")
    min_group: int = option(10, "test rows a group needs to be measured", minimum=1)
    transforms: list[str] = option([], "l2-normalize,center,pca-whiten before the heads")
    head_params: dict[str, dict[str, Any]] | None = option(None, "per-head parameters", cli=False)

    def validate(self) -> None:
        check_names(self.heads, "heads")


def _attributes(inputs: StoreInputs, settings: GroupSettings) -> dict[str, tuple]:
    """{attribute: (training rows' values or None, test rows' values)} from the file or the
    store's group column; missing and unknown ids are errors naming them."""
    if settings.groups is None:
        if inputs.groups_test is None:
            raise DataError(
                f"store {inputs.label} has no group column; give --groups FILE "
                "(a CSV: id,<attribute>...)"
            )
        return {STORE_COLUMN: (inputs.groups_train, inputs.groups_test)}
    table = read_groups(settings.groups)
    known = set(inputs.ids_train) | set(inputs.ids_test)
    first = next(iter(table.values()))
    unknown = [i for i in first if i not in known]
    if unknown:
        raise DataError(
            f"groups file {settings.groups} names {len(unknown)} ids that are not training or "
            f"test rows of the store, e.g. {unknown[:3]}"
        )
    missing = [i for i in inputs.ids_test if i not in first]
    if missing:
        raise DataError(
            f"groups file {settings.groups} misses {len(missing)} test items of the store, "
            f"e.g. {missing[:3]}; every test item needs its attributes"
        )
    needs_train = any(learns_from_groups(h) for h in settings.heads)
    lacking = [i for i in inputs.ids_train if i not in first] if needs_train else []
    if lacking:
        raise DataError(
            f"groups file {settings.groups} misses {len(lacking)} training items, e.g. "
            f"{lacking[:3]}; the group-aware heads learn from every training row's group"
        )
    out = {}
    for attribute, values in table.items():
        train = np.array([values.get(i, "") for i in inputs.ids_train], dtype=object)
        out[attribute] = (train, np.array([values[i] for i in inputs.ids_test], dtype=object))
    return out


def group_accuracies(
    y: np.ndarray, predicted: np.ndarray, groups: dict[str, np.ndarray], measured: list[str]
) -> dict[str, float]:
    """Overall accuracy, `accuracy/<group>` of each measured group, worst and gap."""
    correct = predicted == y
    out = {"accuracy": float(correct.mean())}
    for name in measured:
        out[f"accuracy/{name}"] = float(correct[groups[name]].mean())
    values = [out[f"accuracy/{name}"] for name in measured]
    out["worst_group_accuracy"] = min(values)
    out["group_gap"] = max(values) - min(values)
    return out


@register_protocol
class Groups(Protocol):
    """Accuracy per group, worst-group accuracy and the gap, from a groups file or the store."""

    name = "groups"
    title = "Groups: accuracy per group and worst-group accuracy of heads on {encoder} features"
    settings_type = GroupSettings
    metrics = (
        Metric("accuracy"),
        Metric("worst_group_accuracy"),
        Metric("group_gap", lower_is_better=True),
    )
    main_metric = "worst_group_accuracy"
    figure = "groups"  # the report's main figure

    def total(self, settings: GroupSettings) -> int:
        return len(settings.heads) * sum(1 if s == ALL else settings.seeds for s in settings.shots)

    def run(
        self,
        inputs: StoreInputs,
        settings: GroupSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        attributes = _attributes(inputs, settings)
        names = inputs.class_names
        test_masks, sizes = {}, {}
        for attribute, (_, values) in attributes.items():
            keys = values
            if settings.by_class:
                keys = np.array(
                    [f"{names[c]}|{v}" for c, v in zip(inputs.y_test, values, strict=True)]
                )
            for value in sorted(set(keys)):
                name = f"{attribute}={value}"
                test_masks[name] = keys == value
                sizes[name] = int(test_masks[name].sum())
        measured = [g for g, n in sizes.items() if n >= settings.min_group]
        too_small = sorted(g for g, n in sizes.items() if n < settings.min_group)
        if not measured:
            raise DataError(
                f"no group has {settings.min_group} test rows (sizes: {sizes}); lower --min-group"
            )
        train_groups = np.array(
            [
                "|".join([names[c], *(str(v[i]) for v, _ in attributes.values())])
                for i, c in enumerate(inputs.y_train)
            ]
        )
        check_shots(inputs.y_train, settings.shots, "error", inputs.class_names)
        results = inputs.results(
            seeds=settings.seeds,
            n_test=len(inputs.y_test),
            groups_from=settings.groups or "the store's group column",
            group_sizes=sizes,
            too_small=too_small,
            min_group=settings.min_group,
            training_groups="class × " + " × ".join(attributes),
        )
        for shots in settings.shots:
            for seed in range(1 if shots == ALL else settings.seeds):  # all: one fit
                rows = k_shot_indices(inputs.y_train, shots, seed)
                models = inputs.build(
                    settings.heads, settings.head_params, settings.transforms, groups=True
                )
                for head, model in models.items():
                    fit_with_groups(
                        model, inputs.X_train[rows], inputs.y_train[rows], train_groups[rows]
                    )
                    predicted = model.predict(inputs.X_test)
                    scores = group_accuracies(inputs.y_test, predicted, test_masks, measured)
                    results.add(head, shots, seed, scores)
                    if progress:
                        progress(1)
        return results
