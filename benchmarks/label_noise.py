"""Issue 14: label-error detection and training under noise, beside cleanlab.

A. Detection. Fashion-MNIST (EfficientNet-Lite0 features) and Reuters R8 (MiniLM), training
   items only, with 10/20/40% symmetric and 20/40% asymmetric noise, `--seeds` corruptions
   each. Every detector gets the same 5-fold cross-fitted probabilities of one head
   (`--head`, GDA by default): our confident learning, small-loss, kNN disagreement, LSA
   (`lsa`: the paper's global separator; `lsa-per-label`: ours), and cleanlab's
   `find_label_issues` (default filter, prune by noise rate) — cleanlab is a benchmark-only
   dependency. Precision, recall and F1 against the planted flips, mean and 95% t interval
   over seeds.
B. Training after cleaning: a linear probe (C = 1) fitted on the noisy labels, on the items
   each detector kept, and on the true labels (oracle), scored on the clean test split.

Needs `pip install -e ".[bench]"` (cleanlab). Run:
python benchmarks/label_noise.py [--fashion STORE --r8 STORE --per-class 600 --seeds 3 --only r8]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from store_subsets import train_test  # benchmarks/ is on sys.path when run as a script

from headstart.heads import create_head
from headstart.protocol.corruption import corrupt_labels
from headstart.protocol.statistics import mean_ci
from headstart.quality import out_of_fold_proba
from headstart.quality.detectors import run_detector

HERE = Path(__file__).parent
NOISE = ["symmetric:0.1", "symmetric:0.2", "symmetric:0.4", "asymmetric:0.2", "asymmetric:0.4"]
OURS = ["confident-learning", "small-loss", "knn", "lsa", "lsa-per-label"]


def prf(flag: np.ndarray, bad: np.ndarray) -> dict[str, float]:
    hits = (flag & bad).sum()
    p = hits / max(flag.sum(), 1)
    r = hits / max(bad.sum(), 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}


def detect_all(X, noisy, head, seed):
    """{detector: flags} on one noisy set, all from the same cross-fitted probabilities."""
    from cleanlab.filter import find_label_issues as cleanlab_issues

    model = create_head(head)
    started = time.perf_counter()
    proba = out_of_fold_proba(model, X, noisy, 5, seed)
    seconds = {"cross-fit": time.perf_counter() - started}
    flags = {}
    for name in OURS:
        started = time.perf_counter()
        flags[name] = run_detector(name, X, noisy, proba, model, seed).flag
        seconds[name] = time.perf_counter() - started
    started = time.perf_counter()
    flags["cleanlab"] = cleanlab_issues(noisy, proba)
    seconds["cleanlab"] = time.perf_counter() - started
    return flags, seconds


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t interval (0 for one value)."""
    mean, low, high = mean_ci(np.asarray(values, float))
    return mean, 0.0 if np.isnan(high) else (high - low) / 2


def run(name: str, path: Path, per_class: int | None, seeds: int, head: str) -> dict:
    X, y, X_test, y_test = train_test(path, per_class)
    print(f"{name}: {len(y)} training items, {len(y_test)} test items, {X.shape[1]}-d")
    out: dict = {"n_train": len(y), "n_test": len(y_test), "conditions": {}}
    for spec in NOISE:
        scores: dict[str, dict[str, list[float]]] = {}
        accuracy: dict[str, list[float]] = {}
        timing: dict[str, list[float]] = {}
        for seed in range(seeds):
            noisy = corrupt_labels(y, spec, seed)
            bad = noisy != y
            flags, seconds = detect_all(X, noisy, head, seed)
            for detector, flag in flags.items():
                for metric, value in prf(flag, bad).items():
                    scores.setdefault(detector, {}).setdefault(metric, []).append(value)
                keep = ~flag
                probe = create_head("linear-probe", C=1.0).fit(X[keep], noisy[keep])
                accuracy.setdefault(detector, []).append(probe.score(X_test, y_test))
            for label, labels in (("noisy labels", noisy), ("true labels (oracle)", y)):
                probe = create_head("linear-probe", C=1.0).fit(X, labels)
                accuracy.setdefault(label, []).append(probe.score(X_test, y_test))
            for key, value in seconds.items():
                timing.setdefault(key, []).append(value)
        out["conditions"][spec] = {
            "detection": {d: {m: interval(v) for m, v in s.items()} for d, s in scores.items()},
            "accuracy": {k: interval(v) for k, v in accuracy.items()},
            "seconds": {k: float(np.mean(v)) for k, v in timing.items()},
        }
        f1 = {d: round(s["f1"][0], 3) for d, s in out["conditions"][spec]["detection"].items()}
        print(f"  {spec}: F1 {f1}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    stores = Path("/tmp/headstart-bench-stores")
    parser.add_argument(
        "--fashion", type=Path, default=stores / "fashion-mnist-efficientnet-lite0-full"
    )
    parser.add_argument("--r8", type=Path, default=stores / "reuters-r8-minilm")
    parser.add_argument(
        "--per-class", type=int, default=600, help="Fashion training items per class"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--head", default="gda")
    parser.add_argument("--only", choices=["fashion", "r8"], help="run one dataset")
    args = parser.parse_args()
    started = time.perf_counter()
    target = HERE / "out" / "label_noise.json"
    results = json.loads(target.read_text()) if target.is_file() and args.only else {}
    results.update(head=args.head, seeds=args.seeds)
    if args.only in (None, "fashion"):
        results["fashion-mnist · efficientnet-lite0"] = run(
            "fashion-mnist", args.fashion, args.per_class, args.seeds, args.head
        )
    if args.only in (None, "r8"):
        results["reuters-r8 · minilm"] = run("reuters-r8", args.r8, None, args.seeds, args.head)
    results["seconds"] = time.perf_counter() - started
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=1))
    print(f"wrote {target} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
