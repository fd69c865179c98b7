"""The verbs of knowing what a head does not know: open-set evaluation, class-incremental
sessions and adding classes to a saved model. Re-exported by `headstart.api`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from headstart import workflow
from headstart.output import check_outputs
from headstart.progress import progress_bar
from headstart.protocol import Results
from headstart.protocol.incremental import INCREMENTAL_HEADS
from headstart.protocol.open_set import DEFAULT_SCORES
from headstart.store import Store


def evaluate_open_set(
    store: str | Path,
    heads: Sequence[str],
    shots: Sequence[int | str] = (1, 4, 16, "all"),
    seeds: int = 10,
    scores: Sequence[str] = DEFAULT_SCORES,
    unknown_fraction: float = 0.4,
    far: str | Path | None = None,
    out: str | Path | None = None,
    transforms: Sequence[str] = (),
    progress: bool = True,
) -> Results:
    """The open-set protocol: per seed a random `unknown_fraction` of the classes is held
    out; every head × open-set score is scored on the whole test set (and on the store `far`
    as far out-of-distribution items); saved as rows + summary when `out` is given."""
    check_outputs(out)
    with progress_bar(progress) as bar:
        task = bar.add_task("open-set", total=len(heads) * len(shots) * seeds)
        results = workflow.evaluate_store_open_set(
            Store(store),
            heads,
            shots,
            seeds,
            scores,
            unknown_fraction,
            None if far is None else Store(far),
            transforms,
            progress=lambda n: bar.advance(task, n),
        )
    if out is not None:
        results.save(out)
    return results


def evaluate_incremental(
    store: str | Path,
    spec: str,
    heads: Sequence[str] = INCREMENTAL_HEADS,
    seeds: int = 5,
    out: str | Path | None = None,
    transforms: Sequence[str] = (),
    progress: bool = True,
) -> Results:
    """Few-shot class-incremental sessions "B:N:K" (B base classes with all their items,
    then sessions of N new classes × K shots added without a refit), over seeded class
    orders; saved as rows + summary when `out` is given."""
    check_outputs(out)
    with progress_bar(progress) as bar:
        task = bar.add_task("sessions", total=len(heads) * seeds)
        results = workflow.evaluate_store_incremental(
            Store(store), heads, spec, seeds, transforms, lambda n: bar.advance(task, n)
        )
    if out is not None:
        results.save(out)
    return results


def extend(
    model: str | Path, store: str | Path, out: str | Path | None = None, overwrite: bool = False
) -> Path:
    """Add the classes of `store` to the saved incremental model `model` without refitting
    the others; saved to `out` (default: the model's own folder, replaced only on success;
    another saved model only with `overwrite`)."""
    check_outputs(out)
    return workflow.extend_model(model, Store(store), out or model, overwrite)
