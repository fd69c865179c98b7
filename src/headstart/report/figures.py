"""Matplotlib figures of a `Results`: few-shot small multiples, paired-difference map, NB vs LR.

Each function returns PNG bytes so the report can inline them; nothing here writes files, and
pyplot is not used (no global figure state, no GUI backend).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from headstart.heads.tags import FAMILIES
from headstart.protocol import Results


def subplots(figsize: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure and its axes without pyplot: no global state, no GUI backend."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots()


def png_bytes(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _shot_axis(levels: list[str]) -> tuple[list[float], list[str]]:
    """Numeric x positions: log2 of shots; "0" (zero-shot) one step before the smallest,
    "all" one step past the largest."""
    if not all(s.isdigit() or s == "all" for s in levels):  # sessions, "cv": evenly spaced
        return [float(i) for i in range(len(levels))], levels
    numeric = [float(s) for s in levels if s not in ("all", "0")]
    top, bottom = (max(numeric), min(numeric)) if numeric else (1.0, 1.0)
    position = {"all": np.log2(top) + 1.5, "0": np.log2(bottom) - 1.5}
    xs = [position[s] if s in position else float(np.log2(float(s))) for s in levels]
    return xs, levels


def few_shot_panels(
    results: Results, families: dict[str, str], best: str, metric: str, title: str
) -> bytes:
    """Small multiples: one panel per head family, each head's mean with its 95% CI band
    against shots; the overall best head (`best`) is drawn in every panel in grey as the
    reference. A head run only at 0 shots is a dashed line across its panel."""
    summary = [s for s in results.summary() if s["metric"] == metric]
    levels = results.shots()
    xs, labels = _shot_axis(levels)
    x_of = dict(zip(levels, xs, strict=True))
    groups: dict[str, list[str]] = {}
    for head in results.heads():
        groups.setdefault(families.get(head, "other"), []).append(head)
    columns = min(len(groups), 3)
    rows = -(-len(groups) // columns)
    figure = Figure(figsize=(3.6 * columns + 0.4, 3.0 * rows + 0.6))
    axes = np.asarray(figure.subplots(rows, columns, squeeze=False, sharey=True)).ravel()

    def draw(axis: Any, head: str, **style: Any) -> None:
        cells = {s["shots"]: s for s in summary if s["head"] == head}
        own = [level for level in levels if level in cells]
        at = np.array([x_of[level] for level in own])
        mean = np.array([cells[level]["mean"] for level in own])
        low = np.array([cells[level]["ci_low"] for level in own], dtype=float)
        high = np.array([cells[level]["ci_high"] for level in own], dtype=float)
        line = axis.plot(at, mean, marker="o", markersize=3, **style)[0]
        if own == ["0"]:
            axis.axhline(mean[0], linestyle="--", linewidth=1, color=line.get_color())
        ok = ~np.isnan(low)
        axis.fill_between(at[ok], low[ok], high[ok], alpha=0.15, color=line.get_color())

    for axis, (family, heads) in zip(axes, groups.items(), strict=False):
        if best not in heads:
            draw(axis, best, color="#999999", linewidth=2.5, label=f"{best} (best)")
        for head in heads:
            draw(axis, head, label=head + (" (best)" if head == best else ""))
        axis.set_title(FAMILIES.get(family, family), fontsize=9)
        axis.set_xticks(xs, labels, fontsize=7)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in axes[len(groups) :]:
        axis.set_axis_off()
    for axis in axes[::columns]:
        axis.set_ylabel(f"{metric} (95% CI band)", fontsize=8)
    figure.supxlabel("training items per class (shots)", fontsize=8)
    figure.suptitle(title, fontsize=10)
    return png_bytes(figure)


def difference_map(
    differences: list[dict[str, Any]], heads: list[str], levels: list[str], title: str
) -> bytes:
    """Heads × shots, colour = mean paired difference to the best head of that level (0 on
    the best head itself); a dot marks a difference whose 95% CI excludes 0."""
    grid = np.full((len(heads), len(levels)), np.nan)
    certain = np.zeros_like(grid, dtype=bool)
    for d in differences:
        if d["head"] in heads and d["shots"] in levels:
            i, j = heads.index(d["head"]), levels.index(d["shots"])
            grid[i, j] = d["mean_difference"]
            bounds = np.array([d["ci_low"], d["ci_high"]], dtype=float)
            certain[i, j] = bool(
                np.isfinite(bounds).all() and (bounds > 0).all() | (bounds < 0).all()
            )
    for d in differences:  # the reference of each level sits at 0
        if d["reference"] in heads and d["shots"] in levels:
            grid[heads.index(d["reference"]), levels.index(d["shots"])] = 0.0
    limit = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    figure, axis = subplots(figsize=(1.2 + 0.7 * len(levels), 0.8 + 0.32 * len(heads)))
    image = axis.imshow(grid, cmap="RdBu", vmin=-limit or -1, vmax=limit or 1, aspect="auto")
    rows, cols = np.nonzero(certain)
    axis.scatter(cols, rows, s=10, color="black", label="95% CI excludes 0")
    axis.set_xticks(range(len(levels)), levels, fontsize=8)
    axis.set_yticks(range(len(heads)), heads, fontsize=8)
    axis.set_xlabel("shots")
    axis.set_title(title, fontsize=9)
    figure.colorbar(image, fraction=0.046, label="difference to the best head")
    return png_bytes(figure)


def metric_bars(results: Results) -> bytes:
    """Mean of every metric per model with its 95% CI as error bars (cross-validation)."""
    summary = results.summary()
    metrics, heads = results.metrics(), results.heads()
    figure, axis = subplots(figsize=(7, 4.2))
    width = 0.8 / max(len(heads), 1)
    for i, head in enumerate(heads):
        cells = {s["metric"]: s for s in summary if s["head"] == head}
        present = [m for m in metrics if m in cells]
        xs = np.array([metrics.index(m) for m in present]) + (i - (len(heads) - 1) / 2) * width
        mean = np.array([cells[m]["mean"] for m in present])
        low = np.array([cells[m]["ci_low"] for m in present], dtype=float)
        high = np.array([cells[m]["ci_high"] for m in present], dtype=float)
        errors = np.nan_to_num(np.vstack([mean - low, high - mean]))
        axis.bar(xs, mean, width, yerr=errors, capsize=3, label=head)
    axis.set_xticks(range(len(metrics)), metrics)
    axis.set_ylabel("mean over folds (95% CI)")
    axis.set_ylim(0, 1.05)
    axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize=8)
    return png_bytes(figure)


def learning_curves(results: Results, n_classes: int) -> bytes:
    """Test error vs training-set size (shots × classes) per head, mean and 95% CI band."""
    figure, axis = subplots(figsize=(6, 4))
    summary = [s for s in results.summary() if s["metric"] == "accuracy"]
    for head in results.heads():
        cells = sorted(
            (int(s["shots"]), s) for s in summary if s["head"] == head and s["shots"] != "all"
        )
        sizes = [shots * n_classes for shots, _ in cells]
        error = np.array([1 - s["mean"] for _, s in cells])
        low = np.array([1 - s["ci_high"] for _, s in cells], dtype=float)
        high = np.array([1 - s["ci_low"] for _, s in cells], dtype=float)
        line = axis.plot(sizes, error, marker="o", label=head)[0]
        ok = ~np.isnan(low)
        axis.fill_between(np.array(sizes)[ok], low[ok], high[ok], alpha=0.2, color=line.get_color())
    axis.set_xscale("log")
    axis.set_xlabel("training set size m")
    axis.set_ylabel("test error")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return png_bytes(figure)


def bag_attention(arrays: dict[str, np.ndarray], title: str, most: int = 14) -> bytes:
    """One row per bag: its instances (as images when they are square grey images, else as
    bars) with each one's attention weight; instances labelled positive are framed in red."""
    offsets, attention, marks = arrays["offsets"], arrays["attention"], arrays["marks"]
    instances, labels, probability = arrays["instances"], arrays["labels"], arrays["probability"]
    side = int(np.sqrt(instances.shape[1]))
    images = side * side == instances.shape[1] and side >= 8
    n_bags = len(offsets) - 1
    columns = min(most, int(np.diff(offsets).max())) if images else 1
    figure = Figure(figsize=(1.0 * columns + 1.6 if images else 7, 1.15 * n_bags + 0.6))
    axes = np.asarray(figure.subplots(n_bags, columns, squeeze=False))
    for b in range(n_bags):
        rows = slice(offsets[b], offsets[b + 1])
        weights, positive = attention[rows], marks[rows] == 1
        caption = f"label {labels[b]}\np = {probability[b]:.2f}"
        if not images:
            axis = axes[b, 0]
            axis.bar(range(len(weights)), weights, color=np.where(positive, "tab:red", "tab:blue"))
            axis.set_ylabel(caption, rotation=0, ha="right", va="center", fontsize=8)
            continue
        for c in range(columns):
            axis = axes[b, c]
            axis.set_xticks([])
            axis.set_yticks([])
            if c >= len(weights):
                axis.set_axis_off()
                continue
            axis.imshow(instances[rows][c].reshape(side, side), cmap="gray_r")
            axis.set_title(
                f"{weights[c]:.2f}",
                fontsize=8,
                fontweight="bold" if c == weights.argmax() else "normal",
            )
            for spine in axis.spines.values():
                spine.set_edgecolor("tab:red" if positive[c] else "#bbbbbb")
                spine.set_linewidth(2.5 if positive[c] else 0.8)
        axes[b, 0].set_ylabel(caption, rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle(title, fontsize=10)
    return png_bytes(figure)


def repeated_curves(
    tables: dict[str, np.ndarray], xs: list[int], xlabel: str, ylabel: str, title: str
) -> bytes:
    """One line per model: the mean over repetitions (rows of its table) ± standard error."""
    figure, axis = subplots(figsize=(6.5, 4))
    for name, table in tables.items():
        se = table.std(0, ddof=1) / np.sqrt(len(table)) if len(table) > 1 else 0 * table[0]
        axis.errorbar(xs, table.mean(0), yerr=se, marker="o", capsize=3, label=name)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return png_bytes(figure)


def open_set_panels(cells: dict[str, dict[str, list]], best: str, title: str) -> bytes:
    """Three panels from seed 0's item scores: the best pair's score histogram (known vs
    unknown), ROC curves of every pair given in `cells`, and accuracy–rejection curves
    (accuracy over the accepted items, an accepted unknown item counting as an error)."""
    figure = Figure(figsize=(13, 3.8))
    histogram, roc, rejection = figure.subplots(1, 3)
    chosen = cells[best]
    score, unknown = np.asarray(chosen["score"]), np.asarray(chosen["unknown"], bool)
    bins = np.histogram_bin_edges(score, bins=30)
    histogram.hist(score[~unknown], bins, alpha=0.6, density=True, label="known classes")
    histogram.hist(score[unknown], bins, alpha=0.6, density=True, label="held-out classes")
    histogram.set_title(f"{best}: score (higher = unknown)", fontsize=9)
    histogram.legend(fontsize=7)
    for pair, cell in cells.items():
        s, u = np.asarray(cell["score"]), np.asarray(cell["unknown"], bool)
        right = np.asarray(cell["correct"], bool)
        order = np.argsort(-s, kind="stable")  # reject the highest scores first
        fpr = np.r_[0, np.cumsum(~u[order]) / max((~u).sum(), 1)]
        tpr = np.r_[0, np.cumsum(u[order]) / max(u.sum(), 1)]
        roc.plot(fpr, tpr, label=pair, linewidth=2.5 if pair == best else 1)
        kept = np.argsort(s, kind="stable")  # accept the lowest scores first
        hits = np.cumsum(right[kept])
        accepted = np.arange(1, len(s) + 1)
        rejection.plot(1 - accepted / len(s), hits / accepted, linewidth=2.5 if pair == best else 1)
    roc.plot([0, 1], [0, 1], linestyle="--", color="grey")
    roc.set_xlabel("known items flagged unknown", fontsize=8)
    roc.set_ylabel("unknown items flagged", fontsize=8)
    roc.set_title("ROC, unknown = positive", fontsize=9)
    roc.legend(fontsize=6)
    rejection.set_xlabel("share of items rejected", fontsize=8)
    rejection.set_ylabel("accuracy of the accepted items", fontsize=8)
    rejection.set_title("accuracy–rejection", fontsize=9)
    for axis in (histogram, roc, rejection):
        axis.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    return png_bytes(figure)


SESSION_METRICS = ("accuracy_all", "accuracy_base", "accuracy_new", "harmonic_mean")


def session_panels(results: Results, title: str) -> bytes:
    """Class-incremental sessions: one panel per metric (all seen classes, base, new, their
    harmonic mean), a line per head with its 95% CI band, sessions on the x-axis."""
    summary = results.summary()
    levels = results.shots()
    figure = Figure(figsize=(14, 3.6))
    axes = figure.subplots(1, len(SESSION_METRICS), sharey=True)
    for axis, metric in zip(axes, SESSION_METRICS, strict=True):
        for head in results.heads():
            cells = {s["shots"]: s for s in summary if s["head"] == head and s["metric"] == metric}
            own = [i for i, level in enumerate(levels) if level in cells]
            if not own:
                continue
            at = np.array(own, dtype=float)
            pick = [cells[levels[i]] for i in own]
            mean = np.array([c["mean"] for c in pick])
            low = np.array([c["ci_low"] for c in pick], dtype=float)
            high = np.array([c["ci_high"] for c in pick], dtype=float)
            line = axis.plot(at, mean, marker="o", markersize=3, label=head)[0]
            ok = ~np.isnan(low)
            axis.fill_between(at[ok], low[ok], high[ok], alpha=0.15, color=line.get_color())
        axis.set_title(metric.replace("_", " "), fontsize=9)
        axis.set_xticks(range(len(levels)), [level.replace("session ", "") for level in levels])
        axis.set_xlabel("session", fontsize=8)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (95% CI band)", fontsize=8)
    axes[0].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    return png_bytes(figure)
