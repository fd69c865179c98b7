"""The verbs of knowing what a head does not know: open-set evaluation, class-incremental
sessions and adding classes to a saved model. Re-exported by `headstart.api`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from headstart import workflow
from headstart.output import check_outputs
from headstart.protocol import Results
from headstart.protocol.incremental import INCREMENTAL_HEADS
from headstart.protocol.open_set import DEFAULT_SCORES
from headstart.store import Store
from headstart.workflow.run import run_protocol


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
    calibrate: bool = False,
) -> Results:
    """The open-set protocol: per seed a random `unknown_fraction` of the classes is held
    out; every head × open-set score is scored on the whole test set (and on the store `far`
    as far out-of-distribution items); saved as rows + summary when `out` is given.
    `calibrate`: also the closed-set NLL and ECE before and after temperature scaling."""
    return run_protocol(
        "open-set",
        store,
        out,
        progress,
        heads=list(heads),
        shots=list(shots),
        seeds=seeds,
        scores=list(scores),
        unknown_fraction=unknown_fraction,
        far=None if far is None else str(far),
        transforms=list(transforms),
        calibrate=calibrate,
    )


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
    return run_protocol(
        "incremental",
        store,
        out,
        progress,
        sessions=spec,
        heads=list(heads),
        seeds=seeds,
        transforms=list(transforms),
    )


def extend(
    model: str | Path,
    store: str | Path,
    out: str | Path | None = None,
    overwrite: bool = False,
    all_rows: bool = False,
) -> Path:
    """Add the classes of `store` to the saved incremental model `model` without refitting
    the others; saved to `out` (default: the model's own folder, replaced only on success;
    another saved model only with `overwrite`)."""
    check_outputs(out)
    return workflow.extend_model(model, Store(store), out or model, overwrite, all_rows)
