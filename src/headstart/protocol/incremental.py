"""Few-shot class-incremental sessions (the FSCIL protocol of TEEN and its peers).

`B:N:K`: per seed the class order is shuffled; the first B classes are the base session,
fitted on all their training items; each later session adds N new classes from K training
items each, through the head's `extend` (no refit). After every session the head is scored
on the test items of every class seen so far: accuracy on all of them, on the base classes,
on the classes added since, and the harmonic mean of the last two — each both per item and
as the mean of per-class accuracies (`*_per_class`: the official TEEN protocol's "seen" and
"unseen" accuracies, the diagonal of the row-normalised confusion matrix averaged over base
and over new classes), which differ when classes have unequal test sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from headstart.exceptions import DataError
from headstart.heads.tags import head_tags
from headstart.heads.views import final_step, head_inputs
from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    check_names,
    option,
    register_protocol,
)
from headstart.protocol.results import Results, store_label
from headstart.protocol.sampling import k_shot_indices

INCREMENTAL_HEADS = ("teen", "prototype", "gda")


def parse_sessions(spec: str, n_classes: int) -> tuple[int, int, int]:
    """(B, N, K) from "B:N:K", checked against the number of classes."""
    try:
        base, way, shots = (int(part) for part in spec.split(":"))
    except ValueError as error:
        raise DataError(f"--sessions takes B:N:K (three integers), got {spec!r}") from error
    if base < 2 or way < 1 or shots < 1:
        raise DataError(f"--sessions {spec}: need B ≥ 2 base classes, N ≥ 1, K ≥ 1")
    if base + way > n_classes:
        raise DataError(
            f"--sessions {spec} asks for {base} base + {way} new classes; the store has {n_classes}"
        )
    return base, way, shots


def evaluate_incremental(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    heads: Mapping[str, BaseEstimator],
    spec: str,
    seeds: int = 5,
    dataset: str = "",
    encoder: str = "",
    class_names: Sequence[str] = (),
    store: str = "",
    progress: Callable[[int], None] | None = None,
) -> Results:
    """Every head through every session over `seeds` class orders; rows per session."""
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    base, way, shots = parse_sessions(spec, n_classes)
    sessions = (n_classes - base) // way
    for name, head in heads.items():
        if not head_tags(head).incremental:
            raise DataError(
                f"head {name!r} cannot add classes without a refit; use teen, "
                "prototype or gda (streaming)"
            )
    results = Results(
        provenance={
            "protocol": "incremental",
            "dataset": dataset,
            "encoder": encoder,
            "store": store or store_label(dataset, encoder),
            "seeds": seeds,
            "sessions": f"{base} base classes, then {sessions} sessions of {way} new classes "
            f"× {shots} shots",
            "heads": {n: repr(h) for n, h in heads.items()},
            "families": {n: "incremental" for n in heads},
            "class_orders": {},
            "class_names": list(class_names),
        }
    )
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(n_classes)
        results.provenance["class_orders"][str(seed)] = order.tolist()
        for name, template in heads.items():
            seen = order[:base]
            rows = np.isin(y_train, seen)
            model = clone(template).fit(X_train[rows], y_train[rows])
            results.add(name, "session 0", seed, _scores(model, X_test, y_test, seen, base))
            if hasattr(final_step(model), "alpha_"):  # TEEN's α, chosen on base items only
                results.chosen.append(
                    {"head": name, "seed": seed, "alpha": final_step(model).alpha_}
                )
            for session in range(1, sessions + 1):
                new = order[base + (session - 1) * way : base + session * way]
                pool = np.flatnonzero(np.isin(y_train, new))
                picked = pool[k_shot_indices(y_train[pool], shots, seed * 1000 + session)]
                final_step(model).extend(head_inputs(model, X_train[picked]), y_train[picked])
                seen = order[: base + session * way]
                scores = _scores(model, X_test, y_test, seen, base)
                results.add(name, f"session {session}", seed, scores)
            if progress:
                progress(1)
    return results


def session_metrics(
    y_true: np.ndarray, predicted: np.ndarray, base_classes: np.ndarray
) -> dict[str, float]:
    """Accuracy on every item, and on base and new classes (those not in `base_classes`) per
    item and as the mean of per-class accuracies; the harmonic mean of base and new for both
    (new-class metrics only when a new class has test items)."""
    hit = predicted == y_true
    is_base = np.isin(y_true, base_classes)
    out = {"accuracy_all": float(hit.mean())}
    for part, rows in (("base", is_base), ("new", ~is_base)):
        if rows.any():
            per_class = [hit[rows & (y_true == c)].mean() for c in np.unique(y_true[rows])]
            out[f"accuracy_{part}"] = float(hit[rows].mean())
            out[f"accuracy_{part}_per_class"] = float(np.mean(per_class))
    if "accuracy_new" in out:
        for suffix in ("", "_per_class"):
            old, new = out[f"accuracy_base{suffix}"], out[f"accuracy_new{suffix}"]
            out[f"harmonic_mean{suffix}"] = 0.0 if old + new == 0 else 2 * old * new / (old + new)
    return out


def _scores(model, X_test, y_test, seen, base) -> dict[str, float]:
    rows = np.isin(y_test, seen)
    return session_metrics(y_test[rows], model.predict(X_test[rows]), seen[:base])


@dataclass
class IncrementalSettings(Settings):
    sessions: str | None = option(
        None, "B:N:K: B base classes, then sessions of N new classes × K shots", required=True
    )
    heads: list[str] = option(list(INCREMENTAL_HEADS), "heads that add classes: teen,prototype,gda")
    seeds: int = option(5, "seeded class orders", minimum=1)
    transforms: list[str] = option([], "l2-normalize,center,pca-whiten before the heads")

    def validate(self) -> None:
        check_names(self.heads, "heads")
        if not self.sessions:
            raise DataError("setting sessions: give B:N:K (base classes, new per session, shots)")


SESSION_METRICS = tuple(
    Metric(f"{m}{suffix}")
    for m in ("accuracy_all", "accuracy_base", "accuracy_new", "harmonic_mean")
    for suffix in ("", "_per_class")
    if not (m == "accuracy_all" and suffix)
)


@register_protocol
class Incremental(Protocol):
    """Few-shot class-incremental sessions: base classes, then new ones added without a refit."""

    name = "incremental"
    settings_type = IncrementalSettings
    metrics = SESSION_METRICS
    main_metric = "harmonic_mean"
    figure = "sessions"

    def total(self, settings: IncrementalSettings) -> int:
        return len(settings.heads) * settings.seeds

    def run(
        self,
        inputs: StoreInputs,
        settings: IncrementalSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        streaming = {"gda": {"streaming": True}}  # GDA adds classes with streaming statistics
        return evaluate_incremental(
            *inputs.arrays(),
            inputs.build(settings.heads, streaming, settings.transforms),
            settings.sessions,
            settings.seeds,
            inputs.dataset,
            inputs.encoder,
            inputs.class_names,
            inputs.label,
            progress,
        )

    def heading(self, provenance: dict[str, Any]) -> str:
        return f"Classes added in sessions, on {provenance.get('encoder') or 'the'} features"
