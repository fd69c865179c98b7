"""The results grid for a terminal: one table per store, heads × shot levels. Full intervals
("0.478 [0.321, 0.612]") when they fit the width; else compact cells ("47.8±14.6", percent
and the CI's half-width) that fit 80 columns with six shot levels."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.table import Table

from headstart.protocol import Results
from headstart.protocol.metrics import is_bounded

HEAD_WIDTH = 14  # at least the longest registered head name, "gda-zero-shot", and a space
SHORT_LEVELS = {"0": "zero-shot", "all": "all", "cv": "cross-validation"}


def _full(cell: dict[str, Any]) -> str:
    if math.isnan(cell["ci_low"]):
        return f"{cell['mean']:.3f}"
    return f"{cell['mean']:.3f} [{cell['ci_low']:.3f}, {cell['ci_high']:.3f}]"


def _compact(cell: dict[str, Any], percent: bool) -> str:
    scale = 100.0 if percent else 1.0
    mean = f"{cell['mean'] * scale:.1f}" if percent else f"{cell['mean']:.3g}"
    if math.isnan(cell["ci_low"]):
        return mean
    half = (cell["ci_high"] - cell["ci_low"]) / 2 * scale
    return f"{mean}±{half:.1f}" if percent else f"{mean}±{half:.2g}"


def grid_tables(results: Results, metric: str, title: str, width: int) -> list[Table]:
    """One table per store, cells in the form that fits `width` columns."""
    tables = []
    for store in results.stores():
        mine = results.on(store)
        levels = mine.shots()
        cells = {(s["head"], s["shots"]): s for s in mine.summary() if s["metric"] == metric}
        full = [_full(c) for c in cells.values()]
        names = max(HEAD_WIDTH, *(len(h) + 2 for h in mine.heads()))
        needed = names + len(levels) * (max(map(len, full), default=5) + 3)
        compact = needed > width
        percent = compact and is_bounded(metric)
        seeds = max((c["seeds"] for c in cells.values()), default=0)
        runs = "folds" if mine.test_train_ratio else "seeds"
        form = "% mean±half CI" if percent else "mean±half CI" if compact else "mean [95% CI]"
        table = Table(
            title=f"{title}\n{store} — {metric}, {form}, n ≤ {seeds} {runs}",
            box=box.SIMPLE_HEAD,
            padding=(0, 1),
            collapse_padding=True,
        )
        table.add_column("head", style="bold", no_wrap=True)
        for level in levels:
            name = SHORT_LEVELS.get(level, f"{level}-shot" if level.isdigit() else level)
            table.add_column(name, justify="right", no_wrap=True)
        for head in mine.heads():
            row = [head]
            for level in levels:
                cell = cells.get((head, level))
                if cell is None:  # e.g. a head that needs labels, at 0 shots
                    row.append("—")
                else:
                    row.append(_compact(cell, percent) if compact else _full(cell))
            table.add_row(*row)
        tables.append(table)
    return tables
