"""The k-shot evaluation verbs: the grid on a store (optionally under label noise and a long
tail), class texts for zero-shot heads, prompt ranking and the learning curve. Re-exported by
`headstart.api`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart import workflow
from headstart.output import check_outputs
from headstart.progress import progress_bar
from headstart.protocol import Results
from headstart.protocol.corruption import Corruption
from headstart.store import Store


def evaluate(
    store: str | Path,
    heads: Sequence[str],
    shots: Sequence[int | str] = (1, 2, 4, 8, 16, "all"),
    seeds: int = 20,
    out: str | Path | None = None,
    transforms: Sequence[str] = (),
    progress: bool = True,
    head_params: dict[str, dict[str, Any]] | None = None,
    texts: workflow.ClassTexts | None = None,
    shots_policy: str = "error",
    calibrate: bool = False,
    label_noise: Sequence[str] = (),
    imbalance: float | None = None,
) -> Results:
    """The honest k-shot grid on a store; saved as rows + summary when `out` is given.
    Zero-shot heads embed `texts` (class names, templates or descriptions) with the store's
    encoder. `shots_policy` (error, up-to, drop): classes with fewer items than a level.
    `calibrate`: also report NLL and ECE after temperature scaling fitted on held-out folds
    of each fit's support items. `label_noise` ("symmetric:0.2", "asymmetric:0.4", ...) and
    `imbalance` (a ratio, e.g. 100) corrupt the training side only, seeded; each noise
    setting is its own condition (rows never paired across conditions)."""
    check_outputs(out)
    conditions = [Corruption(n, imbalance) for n in label_noise] or [
        Corruption(None, imbalance) if imbalance is not None else None
    ]
    per_condition = len(heads) * sum(
        1 if s == 0 or (s == "all" and conditions[0] is None) else seeds for s in shots
    )
    merged: Results | None = None
    with progress_bar(progress) as bar:
        task = bar.add_task("evaluate", total=per_condition * len(conditions))
        for corruption in conditions:
            results = workflow.evaluate_store(
                Store(store),
                heads,
                shots,
                seeds,
                transforms,
                progress=lambda n: bar.advance(task, n),
                head_params=head_params,
                texts=texts,
                shots_policy=shots_policy,
                calibrate=calibrate,
                corruption=corruption,
            )
            if merged is None:
                merged = results
            else:
                merged.extend(results, f"condition {corruption.label()}")
    if out is not None:
        merged.save(out)
    return merged


def _lines_or_list(value: str | None, separator: str) -> list[str] | None:
    """A file's non-empty lines, or `value` split on `separator`."""
    if not value:
        return None
    path = Path(value)
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [part.strip() for part in value.split(separator) if part.strip()]


def class_texts(
    names: str | None = None,
    templates: str | None = None,
    descriptions: str | Path | None = None,
    differential: str | Path | None = None,
) -> workflow.ClassTexts:
    """Class texts from CLI-style strings: files (one entry per line) or inline lists."""
    chosen = _lines_or_list(templates, "|")
    return workflow.ClassTexts(
        names=_lines_or_list(names, ","),
        templates=tuple(chosen) if chosen else None,
        descriptions=descriptions,
        differential=differential,
    )


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
) -> Results:
    """Naive Bayes vs logistic regression: test error against training size."""
    check_outputs(out)
    results = workflow.learning_curve_store(Store(store), sizes, repeats)
    if out is not None:
        results.save(out)
    return results
