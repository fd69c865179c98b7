"""Effective robustness across a bench's encoders (Taori et al. 2020): how much more accuracy an
encoder keeps under corruptions than the line the other encoders define predicts from its
clean accuracy. The line is fitted on logit axes (the trend across models is close to linear
there), on every other encoder of the same dataset and task (at least two); the effective
robustness is the encoder's mean corruption accuracy minus the line's prediction, in accuracy
points."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from headstart.bench.cells import DONE, score_of
from headstart.bench.run import BenchRun
from headstart.exceptions import DataError

CLEAN, SHIFTED = "accuracy", "corruption_accuracy"
EPSILON = 1e-3


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def corruption_points(run: BenchRun) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
    """{(task, dataset): {encoder: (clean accuracy, mean corruption accuracy)}} of the
    finished corruptions cells, each the mean over seeds of the cell's score head and shots."""
    points: dict[tuple[str, str], dict[str, tuple[float, float]]] = defaultdict(dict)
    for cell in run.cells:
        if cell.protocol != "corruptions" or cell.status != DONE or cell.results is None:
            continue
        try:
            chosen = score_of(cell)
        except DataError:
            continue
        values = [
            np.mean(
                list(cell.results.values(chosen["head"], chosen["shots"], m).values()) or [np.nan]
            )
            for m in (CLEAN, SHIFTED)
        ]
        if np.isfinite(values).all():
            points[(cell.task, cell.dataset)][cell.encoder] = (float(values[0]), float(values[1]))
    return dict(points)


def trend(points: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """(intercept, slope) of logit(shifted) on logit(clean) over `points` (None below two)."""
    if len(points) < 2:
        return None
    clean, shifted = (np.array(v) for v in zip(*points.values(), strict=True))
    if np.ptp(_logit(clean)) == 0:
        return None
    slope, intercept = np.polyfit(_logit(clean), _logit(shifted), 1)
    return float(intercept), float(slope)


def predicted(line: tuple[float, float], clean: float) -> float:
    intercept, slope = line
    return float(1 / (1 + np.exp(-(intercept + slope * _logit(np.array(clean))))))


def effective_robustness(points: dict[str, tuple[float, float]]) -> dict[str, dict[str, Any]]:
    """Per encoder: clean, shifted, the shifted accuracy the other encoders' line predicts and
    the effective robustness (None where fewer than two other encoders define a line)."""
    out = {}
    for encoder, (clean, shifted) in points.items():
        line = trend({e: p for e, p in points.items() if e != encoder})
        expected = predicted(line, clean) if line else None
        out[encoder] = {
            "clean": clean,
            "shifted": shifted,
            "predicted": expected,
            "effective_robustness": shifted - expected if expected is not None else None,
        }
    return out
