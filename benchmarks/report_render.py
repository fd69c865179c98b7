"""Rendering the HTML report of a 6-head × 6-shot-level × 20-seed evaluation (issue 12 goal:
under 10 s), with a confusion matrix and calibration bins kept for every head and level.

The evaluation is real (six heads on 10 Gaussian classes in 64-d); only the render is timed,
three times, best and all reported. Baseline in the same run: writing the same results with
`Results.save` (Parquet + CSV + JSON), which every evaluation already pays.

Run: python benchmarks/report_render.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from headstart.heads import create_head
from headstart.protocol import evaluate_few_shot
from headstart.report import render_report

HEADS = ("linear-probe", "gda", "gaussian-nb", "prototype", "knn", "linear-svm")
SHOTS = (1, 2, 4, 8, 16, "all")


def main() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 64))
    y_train, y_test = np.repeat(np.arange(10), 40), np.repeat(np.arange(10), 50)
    X_train = centres[y_train] + rng.normal(size=(400, 64)) * 2
    X_test = centres[y_test] + rng.normal(size=(500, 64)) * 2
    heads = {name: create_head(name) for name in HEADS}
    heads["linear-probe"].set_params(C=1.0)  # a fixed C keeps the set-up quick
    started = time.perf_counter()
    results = evaluate_few_shot(
        X_train, y_train, X_test, y_test, heads, SHOTS, seeds=20, dataset="blobs", encoder="none"
    )
    evaluated = time.perf_counter() - started
    renders, saves = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(3):
            started = time.perf_counter()
            results.save(Path(folder) / f"r{run}")
            saves.append(time.perf_counter() - started)
            started = time.perf_counter()
            page = render_report(results, title="benchmark")
            renders.append(time.perf_counter() - started)
    print(f"{len(results.rows):,} rows ({len(HEADS)} heads × {len(SHOTS)} levels × 20 seeds),")
    print(f"evaluated in {evaluated:.1f} s; report {len(page) / 1e6:.2f} MB")
    print(f"render: best {min(renders):.2f} s, runs {', '.join(f'{t:.2f}' for t in renders)}")
    print(
        f"save (baseline): best {min(saves):.2f} s; render / save = "
        f"{min(renders) / min(saves):.1f}×"
    )


if __name__ == "__main__":
    main()
