"""The one workflow entry of every evaluation: a registered protocol on a store (or bag set).

It owns what protocols share: store → arrays by the one split rule (`workflow.splits`), the
heads (with class texts embedded by the store's encoder), side stores of the same encoder,
the progress bar, the one provenance (`workflow.provenance`) and saving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from headstart.exceptions import DataError
from headstart.heads import learns_from_groups, needs_class_texts
from headstart.mil import load_bags
from headstart.output import check_outputs
from headstart.progress import progress_bar
from headstart.prompts import ClassTexts
from headstart.protocol import PROTOCOLS, Results, Settings
from headstart.protocol.base import Protocol, StoreInputs
from headstart.protocol.results import store_label
from headstart.store import Store
from headstart.workflow.corrupted import baseline_store, corrupted_tests, rebuild_encoder
from headstart.workflow.models import build_model
from headstart.workflow.provenance import build_provenance, stamp
from headstart.workflow.splits import train_test_rows
from headstart.workflow.texts import with_class_texts


def run_protocol(
    name: str,
    source: str | Path,
    out: str | Path | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    bar: Progress | None = None,
    **values: Any,
) -> Results:
    """Run protocol `name` on a store (or, for bag protocols, a bag set) with its settings
    (`settings`, or keyword `values` validated into them); saved when `out` is given.
    `bar`: a progress display already open (a bench's) to add this run's bar to."""
    protocol = PROTOCOLS.create(name)
    if settings is None:
        settings = protocol.settings(**values)
    elif values:
        raise DataError(f"give protocol {name!r} either settings or keyword values, not both")
    check_outputs(out)
    if out is not None and Path(out).is_file():
        raise DataError(f"results folder {out} is a file; give a folder for the results")
    if protocol.inputs == "bags":
        inputs = source_of = load_bags(str(source), **protocol.bag_options(settings))
        split, label = None, inputs.name
    else:
        source_of = Store(source)
        inputs, split = store_inputs(source_of, protocol, settings)
        label = inputs.label
    if bar is not None:
        shifted_inputs(bar, source_of, protocol, settings, inputs)
        results = _run_on(bar, protocol, inputs, settings, f"{name} · {label}", remove=True)
    else:
        with progress_bar(progress) as own:
            shifted_inputs(own, source_of, protocol, settings, inputs)
            results = _run_on(own, protocol, inputs, settings, protocol.name)
    common = build_provenance(protocol, settings, source_of, split, label)
    results.provenance = stamp(results.provenance, common)
    if out is not None:
        results.save(out)
        protocol.save_extras(Path(out), inputs, settings)
    return results


def _run_on(
    bar: Progress,
    protocol: Protocol,
    inputs: Any,
    settings: Settings,
    title: str,
    remove: bool = False,
) -> Results:
    """The protocol's run with its own task on `bar` (`remove`: taken off when done, as a
    bench's per-cell bars are)."""
    task = bar.add_task(title, total=protocol.total(settings))
    try:
        return protocol.run(inputs, settings, lambda n: bar.advance(task, n))
    finally:
        if remove:
            bar.remove_task(task)


def store_inputs(store: Store, protocol: Protocol, settings: Settings) -> tuple[StoreInputs, str]:
    """A store's arrays by the one split rule, and the words for which rule applied."""
    train, test, split = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    dataset = str(store.manifest.dataset.get("name"))

    def build(
        heads: Sequence[str],
        head_params: dict[str, dict[str, Any]] | None = None,
        transforms: Sequence[str] = (),
        texts: ClassTexts | None = None,
        groups: bool = False,
    ) -> dict[str, Any]:
        grouped = [h for h in heads if learns_from_groups(h)]
        if grouped and not groups:
            raise DataError(
                f"head {grouped[0]!r} learns from the group of each training row; run it "
                "under the groups protocol (headstart eval groups STORE --heads ...)"
            )
        if any(needs_class_texts(h) for h in heads):
            head_params = with_class_texts(store, heads, head_params, texts or ClassTexts())
        return {h: build_model(h, (head_params or {}).get(h), transforms) for h in heads}

    store_groups = store.groups
    if store_groups is not None and all(g is None or str(g) == "" for g in store_groups):
        store_groups = None  # an empty group column: no groups
    side = {}
    for setting in protocol.side_stores:
        path = getattr(settings, setting)
        if path is not None:
            side[setting] = side_store(store, Store(path), setting).vectors()
    inputs = StoreInputs(
        X_train=vectors[train],
        y_train=labels[train],
        X_test=vectors[test],
        y_test=labels[test],
        class_names=store.class_names,
        dataset=dataset,
        encoder=store.card.name,
        label=store_label(dataset, store.card.name, store.dim, store.key),
        build=build,
        views_train=store.views(train, vectors)
        if protocol.uses_views and store.n_views > 1
        else None,
        side=side,
        whole=lambda: (vectors, store.ids),
        ids_train=[store.ids[r] for r in train],
        ids_test=[store.ids[r] for r in test],
        groups_train=store_groups[train] if store_groups is not None else None,
        groups_test=store_groups[test] if store_groups is not None else None,
    )
    return inputs, split


def shifted_inputs(
    bar: Progress, store: Any, protocol: Protocol, settings: Settings, inputs: Any
) -> None:
    """Fill `inputs.shifted` with the test rows' vectors under each corruption the protocol
    asks for (corrupted stores, cached), and `inputs.baseline` with the same rows embedded by
    the baseline encoder a setting names (clean and corrupted)."""
    recipes = protocol.shifts(settings)
    if not recipes:
        return
    baseline_name = getattr(settings, "baseline", None)
    _, test, _ = train_test_rows(store)
    task = bar.add_task("corrupted test sets", total=len(recipes) * (2 if baseline_name else 1))
    try:
        encoders = [rebuild_encoder(store, "corruptions")]
        if baseline_name:  # checked first: a wrong name fails before the long part
            baseline = baseline_store(store, baseline_name)
            other, _ = store_inputs(baseline, protocol, settings)
            if other.label == inputs.label or not np.array_equal(other.y_test, inputs.y_test):
                raise DataError(f"baseline {baseline_name!r} did not give the store's rows")
            encoders.append(rebuild_encoder(baseline, "a baseline encoder"))
        shifted = corrupted_tests(store, test, recipes, encoders, advance(bar, task))
        inputs.shifted = shifted[0]
        if baseline_name:
            other.shifted = shifted[1]
            inputs.baseline = other
    finally:
        bar.remove_task(task)


def advance(bar: Progress, task: Any) -> Any:
    return lambda n: bar.advance(task, n)


def side_store(store: Store, other: Store, setting: str) -> Store:
    """A second store a protocol reads (a far out-of-distribution set): same encoder card."""
    if other.card.digest() != store.card.digest():
        raise DataError(
            f"{setting} store {other.root} was embedded by {other.card.name!r} with another card "
            f"than {store.root} ({store.card.name!r}); scores would compare different features"
        )
    return other
