"""Heads on Fashion-MNIST EfficientNet-Lite0 embeddings (60k train, 10k test), one run:

1. LinearProbe fit vs scikit-learn LogisticRegression (lbfgs) at the same C;
2. GDA vs LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto");
3. the k-shot grid (6 heads × 6 shot levels × seeds, 10k test) vs a naive loop refitting the
   nearest scikit-learn estimators (LogisticRegressionCV, GridSearchCV(LinearSVC), LDA,
   GaussianNB, NearestCentroid, KNeighborsClassifier) with the same inner validation. The
   naive loop runs `--naive-seeds` seeds per shot level; each level's time is scaled to the
   full seed count ("all" runs once in both), and the output says so.

Run: python benchmarks/heads.py --store STORE [--seeds 20 --naive-seeds 2 --device cpu]
(make the store with: headstart embed fashion-mnist -e efficientnet-lite0 -o STORE)
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit
from sklearn.naive_bayes import GaussianNB as SkGaussianNB
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.svm import LinearSVC

from headstart.heads import create_head
from headstart.heads.linear_probe import DEFAULT_CS
from headstart.protocol import ALL, evaluate_few_shot, k_shot_indices, parse_shots
from headstart.store import Store
from headstart.workflow import train_test

OUT = Path(__file__).parent / "out"
SHOTS = (1, 2, 4, 8, 16, ALL)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def objective(model, X, y, C: float) -> float:
    """scikit-learn's multinomial objective C·Σ cross-entropy + ½‖W‖² at a fitted model."""
    logits = X @ model.coef_.T.astype(X.dtype) + model.intercept_
    log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return float(-C * log_p[np.arange(len(y)), y].sum() + 0.5 * (model.coef_**2).sum())


def naive_estimator(name: str, per_class: int, n_train: int):
    """The scikit-learn estimator a user would reach for in place of each head, with the same
    inner validation as ours: 5-fold (fewer with fewer shots), one 10% holdout above 5,000."""
    if n_train > 5000:
        folds = StratifiedShuffleSplit(n_splits=1, test_size=0.1, random_state=0)
    else:
        folds = min(5, per_class)
    return {
        "linear-probe": lambda: LogisticRegressionCV(Cs=list(DEFAULT_CS), cv=folds, max_iter=200),
        "linear-svm": lambda: GridSearchCV(LinearSVC(), {"C": list(DEFAULT_CS)}, cv=folds),
        "gda": lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        "gaussian-nb": lambda: SkGaussianNB(),
        "prototype": lambda: NearestCentroid(),
        "knn": lambda: KNeighborsClassifier(n_neighbors=5, metric="cosine"),
    }[name]()


def naive_grid(
    X_train, y_train, X_test, y_test, heads, seeds: int, naive_seeds: int, shots=SHOTS
) -> dict:
    """Time the naive loop per shot level on `naive_seeds` seeds, scaled to `seeds`."""
    levels = {}
    for shot in shots:
        runs = [0] if shot == ALL else range(naive_seeds)
        start = time.perf_counter()
        for seed in runs:
            index = k_shot_indices(y_train, shot, seed)
            per_class = len(index) // len(np.unique(y_train))
            for name in heads:
                if per_class < 2 and name in ("linear-probe", "linear-svm", "gda"):
                    # no inner split with one shot; LDA cannot fit one sample per class
                    model = {
                        "linear-probe": LogisticRegression,
                        "linear-svm": LinearSVC,
                        "gda": NearestCentroid,
                    }[name]()
                else:
                    model = naive_estimator(name, per_class, len(index))
                model.fit(X_train[index], y_train[index])
                model.predict(X_test)
        seconds = time.perf_counter() - start
        levels[str(shot)] = {
            "measured_s": round(seconds, 2),
            "seeds_measured": len(runs),
            "scaled_s": round(seconds * (1 if shot == ALL else seeds / naive_seeds), 2),
        }
        print(f"naive {shot}: {levels[str(shot)]}", flush=True)
    return levels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--naive-seeds", type=int, default=2)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive grid loop")
    parser.add_argument("--only-grid", action="store_true", help="skip the two fit timings")
    parser.add_argument("--skip-grid", action="store_true", help="only the two fit timings")
    parser.add_argument("--shots", default="1,2,4,8,16,all", help="shot levels of the grid")
    args = parser.parse_args()
    for category in (ConvergenceWarning, FutureWarning, UserWarning, RuntimeWarning):
        warnings.simplefilter("ignore", category)  # scikit-learn's, from the naive loop
    X_train, y_train, X_test, y_test, _ = train_test(Store(args.store))
    report: dict = {
        "store": str(args.store),
        "n_train": len(y_train),
        "n_test": len(y_test),
        "dim": X_train.shape[1],
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "date": time.strftime("%Y-%m-%d"),
    }

    shots = parse_shots(args.shots)
    if args.only_grid:
        report.update(grid(args, shots, X_train, y_train, X_test, y_test))
        return save(report, args.device)
    ours, t_ours = timed(
        lambda: create_head("linear-probe", C=args.C, device=args.device).fit(X_train, y_train)
    )
    theirs, t_theirs = timed(
        lambda: LogisticRegression(C=args.C, max_iter=1000).fit(X_train, y_train)
    )
    report["linear_probe"] = {
        "headstart_s": round(t_ours, 2),
        "sklearn_s": round(t_theirs, 2),
        "speedup": round(t_theirs / t_ours, 2),
        "headstart_acc": float((ours.predict(X_test) == y_test).mean()),
        "sklearn_acc": float((theirs.predict(X_test) == y_test).mean()),
        "headstart_iter": int(ours.n_iter_),
        "sklearn_iter": int(theirs.n_iter_.max()),
        "headstart_objective": round(objective(ours, X_train, y_train, args.C), 2),
        "sklearn_objective": round(objective(theirs, X_train, y_train, args.C), 2),
    }
    print(json.dumps(report["linear_probe"]), flush=True)

    gda, t_gda = timed(lambda: create_head("gda", device=args.device).fit(X_train, y_train))
    lda, t_lda = timed(
        lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X_train, y_train)
    )
    report["gda"] = {
        "headstart_s": round(t_gda, 2),
        "sklearn_lda_s": round(t_lda, 2),
        "speedup": round(t_lda / t_gda, 2),
        "headstart_acc": float((gda.predict(X_test) == y_test).mean()),
        "sklearn_lda_acc": float((lda.predict(X_test) == y_test).mean()),
    }
    print(json.dumps(report["gda"]), flush=True)
    if not args.skip_grid:
        report.update(grid(args, shots, X_train, y_train, X_test, y_test))
    save(report, args.device)


def save(report: dict, device: str) -> None:
    out = Path(os.environ.get("OUT", OUT))
    out.mkdir(exist_ok=True)
    (out / f"heads_{device}.json").write_text(json.dumps(report, indent=1))


def grid(args, shots, X_train, y_train, X_test, y_test) -> dict:
    """Our grid vs the naive loop on the same shot levels."""
    report: dict = {}
    heads = ["linear-probe", "linear-svm", "gda", "gaussian-nb", "prototype", "knn"]
    on_device = {"linear-probe", "linear-svm", "gda", "knn"}  # the heads that compute in torch
    models = {
        name: create_head(name, **({"device": args.device} if name in on_device else {}))
        for name in heads
    }
    # the few-shot levels and "all" are timed apart: "all" is six fits on 60k rows
    few = [s for s in shots if s != ALL]
    results, t_few = timed(
        lambda: evaluate_few_shot(
            X_train, y_train, X_test, y_test, models, shots=few, seeds=args.seeds
        )
    )
    t_all = 0.0
    if ALL in shots:
        full, t_all = timed(
            lambda: evaluate_few_shot(X_train, y_train, X_test, y_test, models, shots=[ALL])
        )
        results.rows.extend(full.rows)
    t_grid = t_few + t_all
    fits = len(heads) * sum(1 if s == ALL else args.seeds for s in shots)
    if args.skip_naive:
        levels = {}
        scaled = float("nan")
    else:
        levels = naive_grid(
            X_train, y_train, X_test, y_test, heads, args.seeds, args.naive_seeds, shots
        )
        scaled = sum(level["scaled_s"] for level in levels.values())
    accuracy = {
        f"{s['head']}|{s['shots']}": round(s["mean"], 4)
        for s in results.summary()
        if s["metric"] == "accuracy"
    }
    report["grid"] = {
        "fits": fits,
        "headstart_s": round(t_grid, 1),
        "headstart_few_shot_s": round(t_few, 1),
        "headstart_all_s": round(t_all, 1),
        "naive_levels": levels,
        "naive_s_scaled_to_grid": round(scaled, 1),
        "speedup": round(scaled / t_grid, 2),
        "speedup_few_shot": round(
            sum(v["scaled_s"] for k, v in levels.items() if k != str(ALL)) / t_few, 2
        )
        if levels
        else None,
        "accuracy": accuracy,
    }
    print(json.dumps({k: v for k, v in report["grid"].items() if k != "accuracy"}), flush=True)
    return report


if __name__ == "__main__":
    main()
