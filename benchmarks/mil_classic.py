"""The Ilse et al. (2018) protocol on the classic MIL sets: 10-fold cross-validation repeated
5 times on all bags of Musk1, Musk2 and Elephant, attention and gated-attention MIL.

Every model sees the same folds (stratified, seeded by the repeat), so differences between
models are paired. Reported: mean test accuracy over the 50 folds, and the standard error of
the 5 repeat means. Hyper-parameters are fixed in advance (Adam, lr 5e-4, weight decay 5e-4,
at most 100 epochs with early stopping on 10% of the training bags), none tuned on test folds.

Run: python benchmarks/mil_classic.py [--repeats 5 --folds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from headstart.mil import MILClassifier, load_bags

OUT = Path(__file__).parent / "out"
MODELS = ("attention", "gated")
SETTINGS = {
    "hidden": 128,
    "attention_dim": 64,
    "lr": 5e-4,
    "weight_decay": 5e-4,
    "epochs": 100,
    "patience": 10,
    "batch_size": 8,
}


def cross_validate(name: str, repeats: int, folds: int) -> dict:
    bags = load_bags(name)
    accuracy = {m: np.zeros((repeats, folds)) for m in MODELS}
    start = time.perf_counter()
    for repeat in range(repeats):
        splitter = StratifiedKFold(folds, shuffle=True, random_state=repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(len(bags)), bags.labels)):
            for model_name in MODELS:
                model = MILClassifier(model_name, random_state=repeat, **SETTINGS)
                model.fit(bags.subset(train))
                held = bags.subset(test)
                accuracy[model_name][repeat, fold] = (model.predict(held) == held.labels).mean()
    report: dict = {"bags": len(bags), "seconds": round(time.perf_counter() - start, 1)}
    for model_name, table in accuracy.items():
        per_repeat = table.mean(axis=1)
        report[model_name] = {
            "accuracy": round(float(table.mean()), 3),
            "se_over_repeats": round(float(per_repeat.std(ddof=1) / np.sqrt(repeats)), 3),
            "per_repeat": [round(float(v), 3) for v in per_repeat],
        }
    difference = (accuracy["gated"] - accuracy["attention"]).mean(axis=1)
    report["gated_minus_attention"] = {
        "mean": round(float(difference.mean()), 3),
        "se": round(float(difference.std(ddof=1) / np.sqrt(repeats)), 3),
    }
    print(name, json.dumps(report), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folds", type=int, default=10)
    args = parser.parse_args()
    report = {"date": time.strftime("%Y-%m-%d"), "settings": SETTINGS}
    for name in ("musk1", "musk2", "elephant"):
        report[name] = cross_validate(name, args.repeats, args.folds)
    out = Path(os.environ.get("OUT", OUT))
    out.mkdir(exist_ok=True)
    (out / "mil_classic.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
