"""Encoders compared per task: within each dataset by paired differences over the same seeds
(stores with the same items only), and across datasets by the mean score, the average rank
(as MTEB's leaderboard) and, with ≥ 3 datasets and ≥ 3 encoders, a Friedman test followed by
Nemenyi's critical difference (Demšar 2006) — from scikit-posthocs, the `compare` extra."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from headstart.bench.cells import DONE, CellRecord, score_of
from headstart.bench.pairing import pairing_groups
from headstart.exceptions import DataError
from headstart.protocol.metrics import LOWER_IS_BETTER
from headstart.protocol.statistics import mean_ci, metric_ci

ALPHA = 0.05
FEW_DATASETS = (
    "with {n} datasets the Friedman test has little power: a real difference between encoders "
    "can go undetected, and ranks over so few datasets say more about these datasets than "
    "about the encoders in general"
)


@dataclass
class TaskBoard:
    """One task's comparison: scores per dataset × encoder, winners per dataset, and the
    summary across datasets."""

    task: str
    metric: str
    lower_is_better: bool
    scores: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # ds → enc → cell
    per_dataset: list[dict[str, Any]] = field(default_factory=list)
    overall: list[dict[str, Any]] = field(default_factory=list)  # per encoder, best first
    friedman: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # finished cells without a score

    def sentence(self) -> str:
        """The leaderboard's one line on this task."""
        if not self.overall:
            why = f" ({self.problems[0]})" if self.problems else ""
            return f"{self.task}: no encoder has a score on this task{why}."
        top = self.overall[0]
        n = self.friedman.get("datasets", 0)
        tied = self.friedman.get("tied_with_best")
        if tied is None:
            tied_text = (
                "no test across datasets (needs ≥ 3 datasets and ≥ 3 encoders)"
                if self.friedman.get("skipped")
                else ""
            )
        elif self.friedman.get("no_difference"):
            tied_text = (
                f"Friedman's test finds no difference among the encoders "
                f"(p = {self.friedman['p_value']:.3g}), so no encoder is ahead"
            )
        elif tied:
            tied_text = f"not distinguishable from {', '.join(tied)} (Nemenyi, α = {ALPHA})"
        else:
            tied_text = "ahead of every other encoder beyond the critical difference"
        return (
            f"{self.task}: best {top['encoder']} (mean {self.metric} {top['mean']:.3f}, "
            f"average rank {top['average_rank']:.2f} over {n} dataset(s)); {tied_text}."
        )


def build_boards(cells: list[CellRecord]) -> list[TaskBoard]:
    """A board per task, in the order tasks first appear."""
    tasks = list(dict.fromkeys(c.task for c in cells))
    return [_board(task, [c for c in cells if c.task == task]) for task in tasks]


def _board(task: str, cells: list[CellRecord]) -> TaskBoard:
    scored, problems = [], []
    for cell in cells:
        if cell.status != DONE or cell.results is None:
            continue
        try:
            scored.append((cell, score_of(cell)))
        except DataError as error:
            problems.append(f"{cell.dataset} · {cell.encoder}: {error}")
    metric = scored[0][1]["metric"] if scored else ""
    board = TaskBoard(task, metric, metric in LOWER_IS_BETTER, problems=problems)
    sign = -1.0 if board.lower_is_better else 1.0
    for cell, score in scored:
        values = np.array(list(score["values"].values()), dtype=float)
        if not len(values):
            continue
        mean, low, high = metric_ci(metric, values)
        board.scores.setdefault(cell.dataset, {})[cell.encoder] = {
            **score,
            "mean": mean,
            "ci_low": low,
            "ci_high": high,
            "items": cell.items,
        }
    for dataset, by_encoder in board.scores.items():
        board.per_dataset.append(_dataset_winner(dataset, by_encoder, sign))
    _across(board, sign)
    return board


def _dataset_winner(dataset: str, by_encoder: dict[str, dict], sign: float) -> dict[str, Any]:
    """The best encoder on one dataset, and each other encoder's paired difference to it."""
    best = max(by_encoder, key=lambda e: sign * by_encoder[e]["mean"])
    groups = pairing_groups({e: c["items"] for e, c in by_encoder.items()})
    partners = next((g for g in groups if best in g), [best])
    tied, untested, unpaired, differences = [], [], [], []
    for encoder, cell in by_encoder.items():
        if encoder == best:
            continue
        if encoder not in partners:
            unpaired.append(encoder)
            continue
        mine, theirs = cell["values"], by_encoder[best]["values"]
        common = sorted(set(mine) & set(theirs))
        diff = np.array([mine[s] - theirs[s] for s in common])
        if len(common) < 2:  # one value each (a deterministic task): no interval
            untested.append(encoder)
            continue
        mean, low, high = mean_ci(diff) if diff.any() else (0.0, 0.0, 0.0)
        differences.append({"encoder": encoder, "difference": mean, "ci_low": low, "ci_high": high})
        if low <= 0 <= high:
            tied.append(encoder)
    return {
        "dataset": dataset,
        "best": best,
        "tied": tied,
        "untested": untested,
        "unpaired": unpaired,
        "differences": differences,
    }


def _across(board: TaskBoard, sign: float) -> None:
    """Mean over datasets, average rank and the Friedman/Nemenyi test, on the datasets where
    every encoder that finished anywhere has a score (a complete block design)."""
    encoders = list(dict.fromkeys(e for by in board.scores.values() for e in by))
    complete = [d for d, by in board.scores.items() if all(e in by for e in encoders)]
    if not encoders or not complete:
        return
    matrix = np.array([[board.scores[d][e]["mean"] for e in encoders] for d in complete])
    ranks = np.vstack([stats.rankdata(-sign * row) for row in matrix])  # 1 = best
    average = ranks.mean(axis=0)
    rows = []
    for j, encoder in enumerate(encoders):
        mean, low, high = mean_ci(matrix[:, j])
        rows.append(
            {
                "encoder": encoder,
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "average_rank": float(average[j]),
                "datasets": len(complete),
            }
        )
    board.overall = sorted(rows, key=lambda r: (r["average_rank"], -sign * r["mean"]))
    best = encoders.index(board.overall[0]["encoder"])
    board.friedman = friedman_nemenyi(matrix, ranks, encoders, sign, best)
    board.friedman["dropped_datasets"] = sorted(set(board.scores) - set(complete))


def friedman_nemenyi(
    matrix: np.ndarray,
    ranks: np.ndarray,
    encoders: list[str],
    sign: float,
    best: int | None = None,
) -> dict[str, Any]:
    """Friedman's test over datasets (rows) × encoders (columns), then — as Demšar 2006,
    only when it rejects equal ranks at α — Nemenyi's critical difference
    CD = q_α √(k(k+1) / 6N): encoders whose average rank is within CD of the best (`best`,
    default the lowest average rank) are not distinguishable from it. When Friedman does not
    reject (or every rank ties), every encoder is. Needs ≥ 3 datasets and ≥ 3 encoders."""
    n, k = matrix.shape
    out: dict[str, Any] = {"datasets": n, "encoders": k, "alpha": ALPHA}
    if n < 3 or k < 3:
        return out | {"skipped": f"needs ≥ 3 datasets and ≥ 3 encoders (have {n} and {k})"}
    statistic, p_value = stats.friedmanchisquare(*(sign * matrix).T)
    q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / math.sqrt(2)
    cd = float(q * math.sqrt(k * (k + 1) / (6.0 * n)))
    average = ranks.mean(axis=0)
    best = int(np.argmin(average)) if best is None else best
    no_difference = not p_value < ALPHA  # NaN (every rank tied) included
    tied = [
        e
        for j, e in enumerate(encoders)
        if j != best and (no_difference or average[j] - average[best] <= cd)
    ]
    out |= {
        "statistic": float(statistic),
        "p_value": float(p_value),
        "critical_difference": cd,
        "average_ranks": dict(zip(encoders, map(float, average), strict=True)),
        "best": encoders[best],
        "tied_with_best": tied,
        "no_difference": no_difference,
        "nemenyi_p": _nemenyi(sign * matrix, encoders),
        "caveat": FEW_DATASETS.format(n=n) if n < 10 else "",
    }
    return out


def _nemenyi(matrix: np.ndarray, encoders: list[str]) -> dict[str, dict[str, float]] | None:
    """Pairwise Nemenyi p-values from scikit-posthocs (None without the `compare` extra)."""
    try:
        import scikit_posthocs as posthocs
    except ImportError:
        return None
    table = posthocs.posthoc_nemenyi_friedman(matrix)
    values = np.asarray(table, dtype=float)
    return {
        a: {b: float(values[i, j]) for j, b in enumerate(encoders)} for i, a in enumerate(encoders)
    }
