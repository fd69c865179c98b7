"""Issue 28's DiffROAR on BlockMNIST (Shah, Jain & Netrapalli 2021): do input attributions of a
standard head highlight the discriminative digit block or the null block?

Three models: an MLP trained on raw pixels (the paper's kind of standard model), a linear
probe on raw pixels (its input gradient is its class weights), and a linear probe on
efficientnet-lite0 (a frozen ImageNet CNN: the head ∘ encoder headstart fits). For each
attribution (gradient, input × gradient, integrated gradients where cheap; a random ranking as
reference): DiffROAR(k) for k in 5, 10, 20, 50% of the two blocks' pixels kept (the black
margins beside them, which every attribution ranks last, left out of the ranking), removed
pixels black (the background: a mean fill would draw each mask, and with it the predicted
class, into the image), over seeds (the train/test draw); and the share of saliency mass on
the null block (feature inversion if above half). Also times it.

Run: python benchmarks/diffroar_blockmnist.py [--train 400] [--test 200] [--seeds 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from headstart.attributions.diffroar import diffroar, prepared
from headstart.datasets import load_dataset
from headstart.encoders import create_encoder
from headstart.heads import MLP, LinearProbe

HERE = Path(__file__).parent
SETUPS = {  # label → (encoder, options, head, attribution methods)
    "raw-pixels + mlp": (
        "raw-pixels",
        {"size": 56},
        "mlp",
        ["gradient", "input-x-gradient", "integrated-gradients", "random"],
    ),
    "raw-pixels + linear-probe": (
        "raw-pixels",
        {"size": 56},
        "linear-probe",
        ["gradient", "input-x-gradient", "random"],
    ),
    "efficientnet-lite0 + linear-probe": (  # integrated gradients: 50× the cost
        "efficientnet-lite0",
        {},
        "linear-probe",
        ["gradient", "input-x-gradient", "random"],
    ),
}
HEADS = {"mlp": lambda: MLP(hidden=128, epochs=150), "linear-probe": lambda: LinearProbe(C=1.0)}
KS = (5, 10, 20, 50)


def null_share(maps: np.ndarray, digit_top: np.ndarray, side: int) -> np.ndarray:
    """Per image: saliency mass on the null block's half over the whole map."""
    half = side // 2
    upper, lower = maps[:, :half].sum(axis=(1, 2)), maps[:, half:].sum(axis=(1, 2))
    return np.where(digit_top, lower, upper) / (upper + lower)


def block_region(encoder) -> np.ndarray:
    """The pixels of the two 28 × 28 blocks as the encoder sees a 56 × 56 image (the black
    margins beside them left out), found by preparing an image of the blocks alone."""
    indicator = np.zeros((56, 56), dtype=np.uint8)
    indicator[:, 14:42] = 255
    return encoder.prepare(indicator)[..., 0] > 127


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "diffroar.json")
    args = parser.parse_args()
    data = load_dataset("block-mnist")
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, 2 cores",
        "train": args.train,
        "test": args.test,
        "ks": list(KS),
        "results": [],
    }
    for name, (encoder_name, options, head, methods) in SETUPS.items():
        encoder = create_encoder(encoder_name, **options)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            train = rng.choice(np.flatnonzero(data.split == "train"), args.train, replace=False)
            test = rng.choice(np.flatnonzero(data.split == "test"), args.test, replace=False)
            arrays = prepared(encoder, list(data.items[np.concatenate([train, test])]))
            y = data.labels
            parts = (arrays[: len(train)], y[train]), (arrays[len(train) :], y[test])
            top = data.groups[test] == "digit-top"
            region = block_region(encoder)
            for method in methods:
                started = time.perf_counter()
                found = diffroar(
                    encoder, HEADS[head], *parts, method, KS, seed, fill=0.0, region=region
                )
                share = null_share(found["test_maps"], top, arrays.shape[1])
                row = {
                    "encoder": name,
                    "method": method,
                    "seed": seed,
                    "original_accuracy": found["original_accuracy"],
                    "null_share": float(share.mean()),
                    "rows": found["rows"],
                    "seconds": time.perf_counter() - started,
                }
                record["results"].append(row)
                diffs = " ".join(f"k{r['k']}:{r['diffroar']:+.3f}" for r in found["rows"])
                print(
                    f"{name:18s} {method:21s} seed {seed} acc {row['original_accuracy']:.3f} "
                    f"null share {row['null_share']:.3f} DiffROAR {diffs} ({row['seconds']:.0f} s)"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
