"""The evaluations behind `headstart eval`: the k-shot grid, open set, class-incremental
sessions, learning curves and prompt ranking, each on a store's train/test split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from headstart.exceptions import DataError
from headstart.heads import create_head, needs_class_texts
from headstart.prompts import (
    class_embeddings,
)
from headstart.protocol import Results, evaluate_few_shot, learning_curve
from headstart.protocol.corruption import Corruption
from headstart.protocol.incremental import evaluate_incremental
from headstart.protocol.open_set import evaluate_open_set
from headstart.protocol.pac_bayes import rank_prompts
from headstart.protocol.results import store_label
from headstart.store import Store
from headstart.workflow.models import build_model
from headstart.workflow.splits import (
    train_test,
    train_test_rows,
)
from headstart.workflow.texts import (
    ClassTexts,
    store_encoder,
    with_class_texts,
)


def described(store: Store) -> dict[str, Any]:
    """What every evaluation records of its store: dataset, encoder and class names, and
    the feature-space label of its rows (dataset · encoder dim · key prefix)."""
    dataset = str(store.manifest.dataset.get("name"))
    return {
        "dataset": dataset,
        "encoder": store.card.name,
        "class_names": store.class_names,
        "store": store_label(dataset, store.card.name, store.dim, store.key),
    }


def evaluate_store(
    store: Store,
    heads: Sequence[str],
    shots: Sequence[int | str],
    seeds: int,
    transforms: Sequence[str] = (),
    progress: Any = None,
    head_params: dict[str, dict[str, Any]] | None = None,
    texts: ClassTexts | None = None,
    shots_policy: str = "error",
    calibrate: bool = False,
    corruption: Corruption | None = None,
) -> Results:
    """The few-shot grid on one store (`head_params`: parameters per head name). Zero-shot
    and training-free heads get class embeddings from `texts` (default: the class names in
    the default prompt) embedded by the store's own encoder; `corruption` changes the
    training side only."""
    train, test, protocol = train_test_rows(store)
    vectors, labels = store.vectors(), store.labels
    X_train, y_train, X_test, y_test = vectors[train], labels[train], vectors[test], labels[test]
    if any(needs_class_texts(h) for h in heads):
        head_params = with_class_texts(store, heads, head_params, texts or ClassTexts())
    models = {h: build_model(h, (head_params or {}).get(h), transforms) for h in heads}
    results = evaluate_few_shot(
        X_train,
        y_train,
        X_test,
        y_test,
        models,
        shots=shots,
        seeds=seeds,
        **described(store),
        progress=progress,
        views_train=store.views(train, vectors) if store.n_views > 1 else None,
        shots_policy=shots_policy,
        calibrate=calibrate,
        corruption=corruption,
    )
    results.provenance.update(
        {
            "split": protocol,
            "store_path": str(store.root),
            "store_key": store.key,
            "encoder_card": store.card.to_dict(),
            "transforms": list(transforms),
        }
    )
    return results


def evaluate_store_open_set(
    store: Store,
    heads: Sequence[str],
    shots: Sequence[int | str],
    seeds: int,
    scores: Sequence[str],
    unknown_fraction: float,
    far: Store | None = None,
    transforms: Sequence[str] = (),
    progress: Any = None,
) -> Results:
    """The open-set protocol on a store's train/test split; `far` (a store of the same
    encoder card) is scored as far out-of-distribution."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    if far is not None and far.card.digest() != store.card.digest():
        raise DataError(
            f"far set {far.root} was embedded by {far.card.name!r} with another card than "
            f"{store.root} ({store.card.name!r}); scores would compare different features"
        )
    results = evaluate_open_set(
        X_train,
        y_train,
        X_test,
        y_test,
        {h: build_model(h, None, transforms) for h in heads},
        scores,
        shots,
        seeds,
        unknown_fraction,
        None if far is None else far.vectors(),
        **described(store),
        progress=progress,
    )
    results.provenance.update(
        {"split": protocol, "store_path": str(store.root), "store_key": store.key}
    )
    if far is not None:
        results.provenance["far_store"] = str(far.root)
    return results


def evaluate_store_incremental(
    store: Store,
    heads: Sequence[str],
    spec: str,
    seeds: int,
    transforms: Sequence[str] = (),
    progress: Any = None,
) -> Results:
    """Class-incremental sessions on a store's train/test split (GDA with streaming
    statistics, so it can add classes)."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    models = {
        h: build_model(h, {"streaming": True} if h == "gda" else None, transforms) for h in heads
    }
    results = evaluate_incremental(
        X_train,
        y_train,
        X_test,
        y_test,
        models,
        spec,
        seeds,
        **described(store),
        progress=progress,
    )
    results.provenance.update({"split": protocol, "store_path": str(store.root)})
    return results


def learning_curve_store(store: Store, sizes: Sequence[int], repeats: int) -> Results:
    """NB vs logistic regression learning curves on one store."""
    X_train, y_train, X_test, y_test, protocol = train_test(store)
    results = learning_curve(
        X_train,
        y_train,
        X_test,
        y_test,
        sizes,
        repeats,
        **described(store),
    )
    results.provenance.update({"split": protocol, "store_path": str(store.root)})
    return results


def rank_templates(
    store: Store,
    templates: Sequence[str],
    names: Sequence[str] | None = None,
    delta: float = 0.05,
) -> list[dict[str, Any]]:
    """Prompt templates ranked by their PAC-Bayes bound (uniform prior over `templates`),
    computed from the training rows only; each row also reports the test error, which takes no
    part in the ranking."""
    X_train, y_train, X_test, y_test, _ = train_test(store)
    encoder = store_encoder(store)
    names = list(names or store.class_names)
    train_errors, test_errors = {}, {}
    for template in templates:
        texts = class_embeddings(encoder, names, (template,))
        head = create_head("zero-shot", class_embeddings=texts).fit(texts, np.arange(len(names)))
        train_errors[template] = float(np.mean(head.predict(X_train) != y_train))
        test_errors[template] = float(np.mean(head.predict(X_test) != y_test))
    ranked = rank_prompts(train_errors, m=len(y_train), delta=delta)
    return [
        {
            "template": r.prompt,
            "train_error": r.train_error,
            "kl": r.kl,
            "bound": r.bound,
            "test_error": test_errors[r.prompt],
        }
        for r in ranked
    ]
