"""FACILE (Zhang et al., ICLR 2024) on Fashion-MNIST: learn instance features from set-level
labels only, then classify single instances from a few labels in that feature space.

Coarse stage: sets of 32 training images, each drawn from one coarse group (tops:
T-shirt/pullover/coat/shirt; footwear: sandal/sneaker/ankle boot; other: trouser/dress/bag)
and labelled only with that group; a DeepSets model (`MILClassifier("deepset")`) on frozen
EfficientNet-Lite0 features learns the instance map φ (Linear + ReLU). Fine stage: 10-way
k-shot heads on φ(x) against the same heads on the frozen features, same k-shot samples
(headstart's protocol), scored on the 10,000 test images. No fine label is seen before the
fine stage; nothing is tuned on test labels.

Run: python benchmarks/mil_facile.py --store /work/stores/fashion-mnist-lite0
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from headstart import api
from headstart.heads import create_head
from headstart.mil import Bags, MILClassifier
from headstart.protocol import evaluate_few_shot
from headstart.workflow import train_test

OUT = Path(os.environ.get("OUT", Path(__file__).parent / "out"))
GROUPS = {0: "tops", 2: "tops", 4: "tops", 6: "tops", 5: "footwear", 7: "footwear", 9: "footwear"}
COARSE = np.array([["tops", "footwear", "other"].index(GROUPS.get(c, "other")) for c in range(10)])


def coarse_sets(X: np.ndarray, y: np.ndarray, n_sets: int, size: int, seed: int) -> Bags:
    """`n_sets` sets of `size` rows, each from one coarse group, labelled by the group."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(COARSE[y] == g) for g in range(3)]
    groups = np.arange(n_sets) % 3
    sets = [X[rng.choice(members[g], size, replace=False)] for g in groups]
    return Bags.from_list(sets, groups, name="fashion-mnist-coarse-sets")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True, help="Fashion-MNIST store (efficientnet-lite0)")
    parser.add_argument("--sets", type=int, default=3000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--regularizers", nargs="*", default=[], help="e.g. scmil (SupCon)")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test, _ = train_test(api.open_store(args.store))
    start = time.perf_counter()
    sets = coarse_sets(X_train, y_train, args.sets, args.size, seed=0)
    set_model = MILClassifier(
        "deepset",
        hidden=256,
        epochs=30,
        batch_size=32,
        lr=1e-3,
        random_state=0,
        regularizers=tuple(args.regularizers),
    ).fit(sets)
    held = coarse_sets(X_test, y_test, 600, args.size, seed=1)
    set_accuracy = float((set_model.predict(held) == held.labels).mean())
    coarse_seconds = time.perf_counter() - start
    spaces = {
        "frozen Lite0": (X_train, X_test),
        "FACILE φ": (
            set_model.instance_embeddings(X_train),
            set_model.instance_embeddings(X_test),
        ),
    }
    report: dict = {
        "date": time.strftime("%Y-%m-%d"),
        "coarse_set_accuracy_on_test_sets": round(set_accuracy, 3),
        "coarse_stage_seconds": round(coarse_seconds, 1),
        "epochs": set_model.n_epochs_,
    }
    for space, (train_x, test_x) in spaces.items():
        heads = {name: create_head(name) for name in ("linear-probe", "prototype")}
        results = evaluate_few_shot(
            train_x, y_train, test_x, y_test, heads, shots=(1, 5, 10), seeds=args.seeds
        )
        report[space] = {
            f"{s['head']}@{s['shots']}": [
                round(s["mean"], 3),
                round(s["ci_low"], 3),
                round(s["ci_high"], 3),
            ]
            for s in results.summary()
            if s["metric"] == "accuracy"
        }
        print(space, json.dumps(report[space]), flush=True)
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, dict)}))
    OUT.mkdir(exist_ok=True)
    (OUT / "mil_facile.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
