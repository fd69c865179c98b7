"""Issue 13 on real features: Vaze et al.'s "a good closed-set classifier is all you need",
and TEEN's class-incremental sessions.

A. Open set: every head × score at 1, 4, 16 shots and all labels, 40% of the classes held out
   per seed, on Fashion-MNIST (EfficientNet-Lite0 features, `--limit` items per split),
   20 Newsgroups and Reuters R8 (MiniLM, official splits, `--limit` items per split). For
   each score, the correlation (Pearson and Spearman, over head × shot cells) between
   closed-set accuracy and AUROC; a figure of AUROC against accuracy.
B. Sessions: TEEN, plain prototypes and streaming GDA on 20 Newsgroups (10 base classes, 5
   sessions of 2-way 5-shot) and Fashion-MNIST (5 base, 5 sessions of 1-way 5-shot):
   accuracy on new and base classes and their harmonic mean in the last session.

With `--shots 1 --no-sessions` only the 1-shot cells run (issue 24's rerun); `cells` in the
JSON holds every head · score cell's mean AUROC (and, on the text corpora, its far AUROC: the
other MiniLM corpus scored in its own batch as far out-of-distribution items).

Run: python benchmarks/open_set.py [--stores DIR --seeds 5 --limit 2000 --shots 1 4 16 all]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from headstart import api

HERE = Path(__file__).parent
HEADS = ["linear-probe", "gda", "gaussian-nb", "prototype", "knn"]
SCORES = ["msp", "mls", "energy", "mahalanobis", "relative-mahalanobis", "knn", "gda-likelihood"]
CORPORA = {
    "fashion-mnist": "efficientnet-lite0",
    "20newsgroups": "minilm",
    "reuters-r8": "minilm",
}
SESSIONS = {"20newsgroups": "10:2:5", "fashion-mnist": "5:1:5"}
FAR = {"20newsgroups": "reuters-r8", "reuters-r8": "20newsgroups"}  # same encoder, other corpus


def store_for(name: str, encoder: str, stores: Path, limit: int) -> Path:
    path = stores / f"{name}-{encoder}-{limit}"
    api.embed(api.prepare_dataset(name, limit=limit), encoder, path, progress=False)
    return path


def open_set_part(store: Path, seeds: int, out: Path, shots: list, far: Path | None) -> dict:
    started = time.perf_counter()
    results = api.evaluate_open_set(
        store, HEADS, shots, seeds, SCORES, 0.4, far=far, out=out, progress=False
    )
    cells = {}
    for s in results.summary():
        if s["metric"] in ("auroc", "closed_accuracy", "far_auroc"):
            cells.setdefault((s["head"], s["shots"]), {})[s["metric"]] = s["mean"]
    by_score = {}
    for score in SCORES:
        pairs = [
            (c["closed_accuracy"], c["auroc"])
            for (pair, _), c in cells.items()
            if pair.endswith(f" · {score}")
        ]
        accuracy, auroc = np.array(pairs).T
        varies = bool(np.ptp(accuracy) and np.ptp(auroc))  # a correlation needs spread
        within = []  # heads compared at the same shot level: is a better head a better detector?
        for shots in results.shots():
            level = [
                (c["closed_accuracy"], c["auroc"])
                for (pair, at), c in cells.items()
                if at == shots and pair.endswith(f" · {score}")
            ]
            a, b = np.array(level).T
            # None: the score ignores the head (distance scores), so heads cannot be ranked
            within.append(float(stats.spearmanr(a, b)[0]) if np.ptp(a) and np.ptp(b) else None)
        by_score[score] = {
            "pearson": float(stats.pearsonr(accuracy, auroc)[0]) if varies else None,
            "spearman": float(stats.spearmanr(accuracy, auroc)[0]) if varies else None,
            "within_shot_spearman": within,
            "mean_auroc": float(auroc.mean()),
            "points": [[float(a), float(b)] for a, b in pairs],
        }
    best = {}
    for shots in results.shots():
        level = {pair: c for (pair, at), c in cells.items() if at == shots}
        top = max(level, key=lambda p: level[p]["auroc"])
        best[shots] = [top, level[top]["auroc"], level[top]["closed_accuracy"]]
    seconds = round(time.perf_counter() - started, 1)
    listed = {f"{pair} @ {at}": c for (pair, at), c in cells.items()}
    return {"seconds": seconds, "scores": by_score, "best": best, "cells": listed}


def sessions_part(store: Path, spec: str, seeds: int) -> dict:
    results = api.evaluate_incremental(
        store, spec, ["teen", "prototype", "gda"], seeds, progress=False
    )
    last = results.shots()[-1]
    out = {}
    for s in results.summary():
        if s["shots"] == last and s["metric"] in ("accuracy_new", "accuracy_base", "harmonic_mean"):
            out.setdefault(s["head"], {})[s["metric"]] = [s["mean"], s["ci_low"], s["ci_high"]]
    alphas = [c["alpha"] for c in results.chosen if "alpha" in c]
    return {"spec": spec, "last": last, "heads": out, "teen_alpha": alphas}


def figure(report: dict, path: Path) -> None:
    names = list(report)
    fig = Figure(figsize=(4.2 * len(names), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for axis, name in zip(axes, names, strict=True):
        for score, row in report[name]["open_set"]["scores"].items():
            points = np.array(row["points"])
            r = "—" if row["pearson"] is None else f"{row['pearson']:.2f}"
            axis.scatter(points[:, 0], points[:, 1], s=12, label=f"{score} (r={r})")
        axis.set_xlabel("closed-set accuracy")
        axis.set_ylabel("AUROC (held-out classes)")
        axis.set_title(name, fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=Path, default=Path("/tmp/headstart-bench-stores"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--shots", nargs="+", default=["1", "4", "16", "all"])
    parser.add_argument("--no-sessions", action="store_true", help="skip part B")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "open_set.json")
    args = parser.parse_args()
    shots = [s if s == "all" else int(s) for s in args.shots]
    stores = {n: store_for(n, e, args.stores, args.limit) for n, e in CORPORA.items()}
    report = {}
    for name in CORPORA:
        store, far = stores[name], stores.get(FAR.get(name, ""))
        saved = args.out.parent / f"{args.out.stem}_{name}"
        report[name] = {"open_set": open_set_part(store, args.seeds, saved, shots, far)}
        if name in SESSIONS and not args.no_sessions:
            report[name]["sessions"] = sessions_part(store, SESSIONS[name], max(args.seeds, 10))
        print(json.dumps({name: report[name]}, default=str)[:4000], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    if len(shots) > 1:  # the figure plots accuracy against AUROC across shot levels
        figure(report, HERE / "figures" / "open_set_auroc_vs_accuracy.png")


if __name__ == "__main__":
    main()
