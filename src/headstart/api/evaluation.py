"""The k-shot evaluation verbs: the grid on a store (optionally under label noise and a long
tail), class texts for zero-shot heads, prompt ranking and the learning curve — each a
registered protocol run by `workflow.run.run_protocol`. Re-exported by `headstart.api`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart import workflow
from headstart.prompts import ClassTexts
from headstart.protocol import Results
from headstart.store import Store
from headstart.workflow.run import run_protocol


def evaluate(
    store: str | Path,
    heads: Sequence[str],
    shots: Sequence[int | str] = (1, 2, 4, 8, 16, "all"),
    seeds: int = 20,
    out: str | Path | None = None,
    transforms: Sequence[str] = (),
    progress: bool = True,
    head_params: dict[str, dict[str, Any]] | None = None,
    texts: ClassTexts | None = None,
    shots_policy: str = "error",
    calibrate: bool = False,
    label_noise: Sequence[str] = (),
    imbalance: float | None = None,
) -> Results:
    """The honest k-shot grid on a store (the `few-shot` protocol); saved as rows + summary
    when `out` is given. Zero-shot heads embed `texts` (class names, templates or
    descriptions) with the store's encoder. `shots_policy` (error, up-to, drop): classes with
    fewer items than a level. `calibrate`: also NLL and ECE after temperature scaling fitted
    on held-out folds of each fit's support items. `label_noise` ("symmetric:0.2", ...) and
    `imbalance` (a ratio, e.g. 100) corrupt the training side only, seeded; each noise
    setting is its own condition (rows never paired across conditions)."""
    return run_protocol(
        "few-shot",
        store,
        out,
        progress,
        heads=list(heads),
        shots=list(shots),
        seeds=seeds,
        transforms=list(transforms),
        head_params=head_params,
        texts=texts,
        shots_policy=shots_policy,
        calibrate=calibrate,
        label_noise=list(label_noise),
        imbalance=imbalance,
    )


def class_texts(
    names: str | None = None,
    templates: str | None = None,
    descriptions: str | Path | None = None,
    differential: str | Path | None = None,
) -> ClassTexts:
    """Class texts from CLI-style strings: files (one entry per line) or inline lists."""
    return ClassTexts.parse(names, templates, descriptions, differential)


def rank_templates(
    store: str | Path, templates: Sequence[str], delta: float = 0.05
) -> list[dict[str, Any]]:
    """Zero-shot prompt templates ranked by PAC-Bayes bound on the store's training rows."""
    return workflow.rank_templates(Store(store), templates, delta=delta)


def learning_curve(
    store: str | Path,
    sizes: Sequence[int] = (1, 2, 5, 10, 20, 50, 100, 200),
    repeats: int = 5,
    out: str | Path | None = None,
    progress: bool = False,
) -> Results:
    """Naive Bayes vs logistic regression: test error against training size."""
    return run_protocol("learning-curve", store, out, progress, sizes=list(sizes), repeats=repeats)
