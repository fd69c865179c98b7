"""Issue 14: RCAL against plain heads on a noisy long tail (Fashion-MNIST, Lite0 features).

The training side of the store (`--per-class` items per class drawn first) is long-tailed
with imbalance 100 (class 0 keeps all, class 9 one hundredth) and its labels corrupted with
20% and 40% symmetric noise, per seed; the test split stays clean and balanced. Each head is
trained on all the corrupted items ("all" shots) through the evaluation protocol, so the
intervals and paired differences are the report's own. RCAL wraps each base head.

Run: python benchmarks/noisy_long_tail.py [--store STORE --per-class 1000 --seeds 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from store_subsets import train_test  # benchmarks/ is on sys.path when run as a script

from headstart.heads import RCAL, create_head
from headstart.protocol import evaluate_few_shot
from headstart.protocol.corruption import Corruption

HERE = Path(__file__).parent
BASES = ["linear-probe", "gda", "prototype"]


def main() -> None:
    parser = argparse.ArgumentParser()
    default = Path("/tmp/headstart-bench-stores/fashion-mnist-efficientnet-lite0-full")
    parser.add_argument("--store", type=Path, default=default)
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = train_test(args.store, args.per_class)
    heads = {}
    for base in BASES:
        heads[base] = create_head(base)
        heads[f"rcal({base})"] = RCAL(base=base)
    out = {}
    started = time.perf_counter()
    for noise in ("symmetric:0.2", "symmetric:0.4"):
        results = evaluate_few_shot(
            X_train,
            y_train,
            X_test,
            y_test,
            heads,
            ["all"],
            args.seeds,
            dataset="fashion-mnist",
            encoder="efficientnet-lite0",
            corruption=Corruption(noise, 100.0),
        )
        summary = {
            s["head"]: (s["mean"], s["ci_low"], s["ci_high"])
            for s in results.summary()
            if s["metric"] == "accuracy"
        }
        paired = {
            base: results.difference(f"rcal({base})", base, "all", "accuracy", results.store)
            for base in BASES
        }
        out[noise] = {"accuracy": summary, "rcal_minus_base": paired}
        print(noise, json.dumps(out[noise], default=str))
    out["seconds"] = time.perf_counter() - started
    out["n_train_before_tail"] = len(y_train)
    target = HERE / "out" / "noisy_long_tail.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {target} in {out['seconds']:.0f} s")


if __name__ == "__main__":
    main()
