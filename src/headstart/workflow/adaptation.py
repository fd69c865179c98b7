"""The base → novel protocol for adaptation: per seed, a seeded share of the classes is
"base"; an adapter is trained on the base classes' training rows only (their labels, views or
neighbours, per its settings); then k-shot heads are evaluated on the *novel* classes, on the
frozen features and on the adapted ones, with the same seed's samples — so every adapted head
is paired with its frozen self. Novel-class labels reach nothing but the k shots.

The unlabelled variant adapts on every training row (base and novel classes) with no label
at all — neighbours or views make the positives — as a user with an unlabelled pool would;
the heads are then evaluated on the same novel classes as the labelled variant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from headstart.adapt.train import AdaptSettings, fit_adapter
from headstart.exceptions import DataError
from headstart.protocol import Results, evaluate_few_shot
from headstart.store import Store
from headstart.workflow.evaluations import described
from headstart.workflow.models import build_model
from headstart.workflow.splits import train_test


def evaluate_store_adapted(
    store: Store,
    settings: AdaptSettings,
    heads: Sequence[str],
    shots: Sequence[int | str],
    seeds: int,
    base_fraction: float = 0.5,
    progress: Any = None,
    unlabelled: bool = False,
) -> Results:
    """Frozen vs adapted k-shot heads on novel classes, paired on the same seeds."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    classes = np.unique(y_train)
    n_base = round(base_fraction * len(classes))
    if not 1 <= n_base <= len(classes) - 2:
        raise DataError(
            f"--base-classes {base_fraction} leaves {n_base} base and {len(classes) - n_base} "
            f"novel classes of {len(classes)}; both sides need classes (novel at least 2)"
        )
    about = described(store)
    pool = "the unlabelled training split" if unlabelled else "base classes"
    label = f"{about['store']} · novel classes · adapted by {settings.loss} on {pool}"
    merged: Results | None = None
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        base = np.sort(rng.choice(classes, n_base, replace=False))
        novel = np.setdiff1d(classes, base)
        seeded = replace(settings, seed=seed)
        if unlabelled:
            adapter, _ = fit_adapter(X_train, None, seeded)
        else:
            on_base = np.isin(y_train, base)
            adapter, _ = fit_adapter(
                X_train[on_base], np.searchsorted(base, y_train[on_base]), seeded
            )
        train_rows, test_rows = np.isin(y_train, novel), np.isin(y_test, novel)
        y_novel_train = np.searchsorted(novel, y_train[train_rows])
        y_novel_test = np.searchsorted(novel, y_test[test_rows])
        with torch.no_grad():
            mapped = [
                adapter(torch.as_tensor(X[rows], dtype=torch.float32)).numpy()
                for X, rows in ((X_train, train_rows), (X_test, test_rows))
            ]
        for features, suffix in (
            ((X_train[train_rows], X_test[test_rows]), ""),
            (mapped, f" · {settings.loss}"),
        ):
            part = evaluate_few_shot(
                features[0],
                y_novel_train,
                features[1],
                y_novel_test,
                {f"{h}{suffix}": build_model(h, None, ()) for h in heads},
                shots=shots,
                seeds=1,
                dataset=about["dataset"],
                encoder=about["encoder"],
                class_names=[about["class_names"][c] for c in novel]
                if about["class_names"]
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
            "kind": "adaptation",
            "split": protocol,
            "store_path": str(store.root),
            "store_key": store.key,
            "adapt": {
                "settings": settings.__dict__,
                "base_fraction": base_fraction,
                "unlabelled": unlabelled,
            },
            "class_names": [],  # novel classes differ per seed
            "seeds": seeds,
        }
    )
    return merged
