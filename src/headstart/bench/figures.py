"""The leaderboard's figures as PNG bytes: a critical-difference diagram per task (drawn by
scikit-posthocs) and an encoder × dataset heat map of the scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from headstart.bench.leaderboard import TaskBoard
from headstart.report.figures import png_bytes, subplots


def cd_diagram(board: TaskBoard) -> bytes | None:
    """Average ranks on an axis, encoders joined by a bar when Nemenyi cannot tell them apart
    (None when the test did not run, or scikit-posthocs is not installed)."""
    test = board.friedman
    if "critical_difference" not in test or test.get("nemenyi_p") is None:
        return None
    import pandas as pd
    import scikit_posthocs as posthocs

    names = list(test["average_ranks"])
    p = pd.DataFrame(
        [[test["nemenyi_p"][a][b] for b in names] for a in names], index=names, columns=names
    )
    figure, ax = subplots((7.0, 0.9 + 0.28 * len(names)))
    posthocs.critical_difference_diagram(
        pd.Series(test["average_ranks"]),
        p,
        cd=test["critical_difference"],
        alpha=test["alpha"],
        ax=ax,
    )
    ax.set_title(
        f"{board.task}: average rank over {test['datasets']} datasets "
        f"(CD = {test['critical_difference']:.2f}, Friedman p = {test['p_value']:.3g})",
        fontsize=9,
        pad=22,  # above the CD bar scikit-posthocs draws over the rank axis
    )
    return png_bytes(figure)


def heat_map(board: TaskBoard, encoders: list[str], datasets: list[str]) -> bytes:
    """Mean score per encoder (rows) × dataset (columns), the value written in each cell;
    a blank cell did not finish."""
    values = np.full((len(encoders), len(datasets)), np.nan)
    for j, dataset in enumerate(datasets):
        for i, encoder in enumerate(encoders):
            cell: dict[str, Any] | None = board.scores.get(dataset, {}).get(encoder)
            if cell is not None:
                values[i, j] = cell["mean"]
    figure, ax = subplots((1.6 + 1.1 * len(datasets), 0.8 + 0.4 * len(encoders)))
    cmap = "viridis_r" if board.lower_is_better else "viridis"
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(datasets)), datasets, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(encoders)), encoders, fontsize=8)
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "white" if (value < middle) != board.lower_is_better else "black"
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=ax, fraction=0.05, label=board.metric)
    ax.set_title(f"{board.task}: {board.metric} per encoder × dataset", fontsize=9)
    return png_bytes(figure)


def shift_scatter(rows: dict[str, dict[str, Any]], title: str) -> bytes:
    """Mean corruption accuracy against clean accuracy, a point per encoder, and the logit
    line through all of them (effective robustness: the distance above it, each encoder's
    own measured against the line of the others)."""
    from headstart.bench.robustness import predicted, trend

    figure, ax = subplots((4.6, 3.6))
    points = {e: (r["clean"], r["shifted"]) for e, r in rows.items()}
    for encoder, (clean, shifted) in points.items():
        ax.scatter(clean, shifted, s=30)
        ax.annotate(
            encoder, (clean, shifted), fontsize=7, xytext=(4, 3), textcoords="offset points"
        )
    line = trend(points)
    if line:
        xs = np.linspace(0.02, 0.99, 100)
        ax.plot(xs, [predicted(line, x) for x in xs], color="grey", lw=1, ls="--")
    ax.plot([0, 1], [0, 1], color="black", lw=0.5, alpha=0.4)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("clean accuracy", fontsize=8)
    ax.set_ylabel("mean corruption accuracy", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return png_bytes(figure)
