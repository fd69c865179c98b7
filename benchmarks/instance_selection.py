"""Issue 14: instance selection — reduction rate against accuracy (GAIS and baselines).

Fashion-MNIST (Lite0 features, `--per-class` training items per class) and Reuters R8
(MiniLM, all training items). Each method keeps 2, 5, 10 and 20% of every class (CNN keeps
what Hart's rule needs); GDA and kNN heads are trained on the kept items
and scored on the full clean test split; `--seeds` selections each. The full training set is
the reference.

Run: python benchmarks/instance_selection.py [--fashion STORE --r8 STORE --seeds 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from store_subsets import train_test  # benchmarks/ is on sys.path when run as a script

from headstart.heads import create_head
from headstart.quality.gais import gais_importance, select_top
from headstart.quality.instance_selection import select_instances

HERE = Path(__file__).parent
KEEP = [0.02, 0.05, 0.1, 0.2]
METHODS = ["random", "kcenter", "gais-batch", "gais-lsh", "cnn"]
HEADS = ["gda", "knn"]


def scores(X, y, X_test, y_test) -> dict[str, float]:
    return {h: float(create_head(h).fit(X, y).score(X_test, y_test)) for h in HEADS}


def run(path: Path, per_class: int | None, seeds: int) -> dict:
    X, y, X_test, y_test = train_test(path, per_class)
    out = {"n_train": len(y), "full": scores(X, y, X_test, y_test), "methods": {}}
    print(f"{path.name}: {len(y)} training items; full {out['full']}")
    for method in METHODS:
        importance = {}  # GAIS scores once per seed; each share is a top-k of the same scores
        if method.startswith("gais"):
            for seed in range(seeds):
                started = time.perf_counter()
                importance[seed] = gais_importance(X, y, method.split("-")[1], seed=seed)
                importance[f"{seed}s"] = time.perf_counter() - started
        for keep in [1.0] if method == "cnn" else KEEP:
            cells = []
            for seed in range(seeds):
                started = time.perf_counter()
                if method.startswith("gais"):
                    kept = select_top(importance[seed], y, keep)
                else:
                    kept = select_instances(X, y, method, keep, seed)
                seconds = importance.get(f"{seed}s", 0.0) + time.perf_counter() - started
                accuracy = scores(X[kept], y[kept], X_test, y_test)
                cells.append({"kept": len(kept), "seconds": seconds, **accuracy})
            mean = {k: float(np.mean([c[k] for c in cells])) for k in cells[0]}
            std = {h: float(np.std([c[h] for c in cells], ddof=1)) for h in HEADS}
            key = method if method == "cnn" else f"{method}@{keep}"
            out["methods"][key] = {"mean": mean, "std": std, "reduction": 1 - mean["kept"] / len(y)}
            print(f"  {key}: {out['methods'][key]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    stores = Path("/tmp/headstart-bench-stores")
    parser.add_argument(
        "--fashion", type=Path, default=stores / "fashion-mnist-efficientnet-lite0-full"
    )
    parser.add_argument("--r8", type=Path, default=stores / "reuters-r8-minilm")
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", choices=["fashion", "r8"], help="run one dataset")
    args = parser.parse_args()
    started = time.perf_counter()
    target = HERE / "out" / "instance_selection.json"
    results = json.loads(target.read_text()) if target.is_file() and args.only else {}
    if args.only in (None, "fashion"):
        results["fashion-mnist · efficientnet-lite0"] = run(
            args.fashion, args.per_class, args.seeds
        )
    if args.only in (None, "r8"):
        results["reuters-r8 · minilm"] = run(args.r8, None, args.seeds)
    results["seconds"] = time.perf_counter() - started
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=1))
    print(f"wrote {target} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
