"""Figures of the robustness protocols: accuracy against corruption severity per family
(corruptions), and accuracy per group with the worst group marked (groups)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure

from headstart.protocol import Results
from headstart.report.figures import png_bytes

FAMILY_ORDER = ("noise", "blur", "weather", "digital", "extra")


def _means(results: Results, shots: str) -> dict[tuple[str, str], float]:
    """(head, metric) → mean over seeds at one shot level, in the evaluation's own store."""
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in results.rows:
        if str(r["shots"]) == shots and r["store"] == results.store:
            values[(r["head"], r["metric"])].append(r["value"])
    return {key: float(np.mean(v)) for key, v in values.items()}


def severity_curves(results: Results, title: str) -> bytes:
    """One panel per corruption family: accuracy against severity (0: clean), a line per head
    averaged over the family's corruptions, thin lines for each corruption of the first head."""
    families = results.provenance.get("families", {})
    severities = [int(s) for s in results.provenance.get("severities", [1, 2, 3, 4, 5])]
    shots = results.shots()[-1]
    means = _means(results, shots)
    present = [f for f in FAMILY_ORDER if f in families.values()]
    figure = Figure(figsize=(2.6 * max(len(present), 1) + 0.6, 2.9))
    axes = np.atleast_1d(figure.subplots(1, max(len(present), 1), sharey=True))
    heads = results.heads()
    xs = [0, *severities]
    for axis, family in zip(axes, present, strict=False):
        names = [c for c, f in families.items() if f == family]
        for index, head in enumerate(heads):
            curves = [
                [means[(head, "accuracy")]]
                + [means.get((head, f"accuracy/{c}/{s}"), np.nan) for s in severities]
                for c in names
            ]
            if index == 0:
                for name, curve in zip(names, curves, strict=True):
                    axis.plot(xs, curve, color="grey", lw=0.7, alpha=0.6)
                    axis.annotate(name, (xs[-1], curve[-1]), fontsize=6, color="grey")
            axis.plot(xs, np.nanmean(curves, axis=0), marker="o", lw=2, label=head)
        axis.set_title(family, fontsize=9)
        axis.set_xticks(xs, ["clean", *map(str, severities)], fontsize=7)
        axis.set_xlabel("severity", fontsize=8)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(f"accuracy ({shots} shots, mean over seeds)", fontsize=8)
    axes[0].set_ylim(0, 1.02)
    axes[-1].legend(fontsize=7)
    figure.suptitle(title, fontsize=9)
    return png_bytes(figure)


def group_bars(results: Results, title: str) -> bytes:
    """Accuracy per group for each head (bars, 95% CI over seeds), the worst group's bar
    outlined, at the last shot level."""
    shots = results.shots()[-1]
    summary = {
        (s["head"], s["metric"]): s
        for s in results.summary()
        if s["shots"] == shots and s["store"] == results.store
    }
    groups = sorted({m for _, m in summary if m.startswith("accuracy/")})
    heads = results.heads()
    figure = Figure(figsize=(max(5.0, 1.0 + 0.9 * len(groups) * max(len(heads), 1) / 2), 3.2))
    axis = figure.subplots()
    width = 0.8 / max(len(heads), 1)
    for i, head in enumerate(heads):
        cells = [summary.get((head, g)) for g in groups]
        mean = np.array([c["mean"] if c else np.nan for c in cells])
        low = np.array([c["ci_low"] if c else np.nan for c in cells], dtype=float)
        high = np.array([c["ci_high"] if c else np.nan for c in cells], dtype=float)
        errors = np.nan_to_num(np.vstack([mean - low, high - mean]))
        xs = np.arange(len(groups)) + (i - (len(heads) - 1) / 2) * width
        bars = axis.bar(xs, mean, width, yerr=errors, capsize=2, label=head)
        if np.isfinite(mean).any():
            worst = int(np.nanargmin(mean))
            bars[worst].set_edgecolor("black")
            bars[worst].set_linewidth(1.5)
    axis.set_xticks(
        range(len(groups)), [g.removeprefix("accuracy/") for g in groups], fontsize=7, rotation=20
    )
    axis.set_ylabel(f"accuracy ({shots} shots)")
    axis.set_ylim(0, 1.05)
    axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize=7)
    axis.set_title(title, fontsize=9)
    return png_bytes(figure)
