"""MIL training speed and memory, one run:

1. the batched trainer (16 bags per step, padded + masked) vs the one-bag-per-step loop, same
   model (attention MIL), same epochs, on Musk2 (102 bags, 6,598 instances, 166-d);
2. one bag of 100,000 instances × 1,024 dims (next to a small bag of the other class): fit and
   predict in a fresh process, peak resident memory (goal < 4 GB);
3. MambaMIL against attention MIL: one training step (forward + backward + Adam) on one bag
   of 100 to 20,000 instances × 1,024, and whole fits on UCSB breast cancer (58 bags, 2,002
   instances × 708; default early stopping), seconds per fit and per epoch.

Run: python benchmarks/mil_train.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from headstart.mil import Bags, MILClassifier, load_bags

OUT = Path(__file__).parent / "out"


def timed_fit(bags: Bags, batch_size: int, epochs: int) -> tuple[float, float]:
    model = MILClassifier(
        "attention", epochs=epochs, batch_size=batch_size, validation_fraction=0.0
    )
    start = time.perf_counter()
    model.fit(bags)
    seconds = time.perf_counter() - start
    return seconds, float((model.predict(bags) == bags.labels).mean())


def big_bag() -> None:
    """Child process: fit and predict with a 100,000 × 1,024 bag; prints peak RSS."""
    rng = np.random.default_rng(0)
    big = rng.normal(size=(100_000, 1024)).astype(np.float32)
    small = rng.normal(size=(50, 1024)).astype(np.float32) + 0.5
    bags = Bags.from_list([big, small], [0, 1])
    del big
    start = time.perf_counter()
    model = MILClassifier("gated", epochs=2, batch_size=2, validation_fraction=0.0).fit(bags)
    proba = model.predict_proba(bags)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    print(
        json.dumps(
            {
                "peak_rss_gb": round(peak / 1e9, 3),
                "seconds": round(seconds, 1),
                "proba_shape": list(proba.shape),
            }
        )
    )


def step_seconds(aggregator: str, size: int, repeats: int = 3) -> float:
    """Median seconds of one training step on a bag of `size` × 1,024 (+ a small bag)."""
    rng = np.random.default_rng(0)
    bags = Bags.from_list(
        [rng.normal(size=(size, 1024)).astype(np.float32), rng.normal(size=(20, 1024))], [0, 1]
    )
    model = MILClassifier(aggregator, epochs=1, batch_size=2, validation_fraction=0.0)
    model.fit(bags)  # builds the network, warms the allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(bags)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def mamba_against_attention() -> dict:
    sizes = {}
    for size in (100, 1_000, 5_000, 20_000):
        attention, mamba = step_seconds("attention", size), step_seconds("mamba", size)
        sizes[size] = {
            "attention_s": round(attention, 4),
            "mamba_s": round(mamba, 3),
            "ratio": round(mamba / attention, 1),
        }
        print(json.dumps({"bag_size": size, **sizes[size]}), flush=True)
    ucsb = load_bags("ucsb_breast_cancer")
    fits = {}
    for aggregator in ("attention", "mamba"):
        start = time.perf_counter()
        model = MILClassifier(aggregator).fit(ucsb)
        seconds = time.perf_counter() - start
        fits[aggregator] = {
            "fit_s": round(seconds, 2),
            "epochs": model.n_epochs_,
            "s_per_epoch": round(seconds / model.n_epochs_, 4),
        }
    fits["ratio_fit"] = round(fits["mamba"]["fit_s"] / fits["attention"]["fit_s"], 1)
    fits["ratio_per_epoch"] = round(
        fits["mamba"]["s_per_epoch"] / fits["attention"]["s_per_epoch"], 1
    )
    print(json.dumps({"ucsb": fits}), flush=True)
    return {"one_step_by_bag_size": sizes, "ucsb_fit": fits}


def main() -> None:
    if "--big-bag" in sys.argv:
        return big_bag()
    report: dict = {"date": time.strftime("%Y-%m-%d"), "torch_threads": torch.get_num_threads()}
    bags = load_bags("musk2")
    epochs = 20
    timed_fit(bags, 16, 1)  # warm-up: torch's lazy imports on first step
    batched, batched_acc = timed_fit(bags, 16, epochs)
    single, single_acc = timed_fit(bags, 1, epochs)
    report["musk2"] = {
        "epochs": epochs,
        "batched_16_s": round(batched, 2),
        "one_bag_per_step_s": round(single, 2),
        "speedup": round(single / batched, 2),
        "train_accuracy_batched": round(batched_acc, 3),
        "train_accuracy_one_bag": round(single_acc, 3),
    }
    print(json.dumps(report["musk2"]), flush=True)
    child = subprocess.run(
        [sys.executable, __file__, "--big-bag"], capture_output=True, text=True, check=True
    )
    report["big_bag"] = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(report["big_bag"]))
    report["mamba"] = mamba_against_attention()
    out = Path(os.environ.get("OUT", OUT))
    out.mkdir(exist_ok=True)
    (out / "mil_train.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
