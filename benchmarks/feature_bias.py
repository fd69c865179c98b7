"""Issue 14: Lampinen, Chan & Hermann's easy-vs-hard feature bias, reproduced with a small MLP,
measured with `headstart.quality.feature_bias`.

Inputs are 32 random ±1 bits. The MLP (32 → 256 → 256, ReLU) has two binary outputs: an easy
feature (bit 0, linear) and a hard one (the parity of bits 1–4, nonlinear); it is trained
with Adam until both are learned (≥ 99% accuracy on held-out inputs). The paper's finding: at
equal (near-perfect) accuracy, the easy feature takes far more of the penultimate layer's
variance. A control trains two easy features (bits 0 and 1). `--seeds` networks each.

Run: python benchmarks/feature_bias.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from headstart.quality.feature_bias import decodability, variance_explained

HERE = Path(__file__).parent


def features(bits: np.ndarray, kind: str) -> np.ndarray:
    easy = bits[:, 0] > 0
    other = bits[:, 1] > 0 if kind == "control" else np.prod(bits[:, 1:5], axis=1) > 0
    return np.stack([easy, other], axis=1).astype(np.float32)


def train(seed: int, kind: str) -> dict:
    rng = np.random.default_rng(seed)
    bits = rng.choice([-1.0, 1.0], size=(6000, 32)).astype(np.float32)
    targets = features(bits, kind)
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
    out = nn.Linear(256, 2)
    optimiser = torch.optim.Adam([*body.parameters(), *out.parameters()], lr=1e-3)
    x, t = torch.as_tensor(bits[:5000]), torch.as_tensor(targets[:5000])
    held_x, held_t = torch.as_tensor(bits[5000:]), targets[5000:]
    epochs = 0
    while epochs < 200:
        epochs += 1
        for batch in torch.randperm(5000).split(100):
            optimiser.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(out(body(x[batch])), t[batch])
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            accuracy = ((out(body(held_x)) > 0).numpy() == (held_t > 0.5)).mean(axis=0)
        if accuracy.min() >= 0.99:
            break
    with torch.no_grad():
        hidden = body(held_x).numpy()
    names = ["easy (bit 0)", "bit 1" if kind == "control" else "hard (parity of 4)"]
    return {
        "epochs": epochs,
        "accuracy": dict(zip(names, accuracy.tolist(), strict=True)),
        "variance_explained": {
            n: variance_explained(hidden, held_t[:, i]) for i, n in enumerate(names)
        },
        "decodability": {n: decodability(hidden, held_t[:, i]) for i, n in enumerate(names)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    results = {
        kind: [train(s, kind) for s in range(args.seeds)] for kind in ("easy-hard", "control")
    }
    for kind, runs in results.items():
        for name in runs[0]["variance_explained"]:
            values = [r["variance_explained"][name] for r in runs]
            decode = [r["decodability"][name] for r in runs]
            print(
                f"{kind:9s} {name:20s} variance explained {np.mean(values):.3f} "
                f"± {np.std(values, ddof=1):.3f}; decodability {np.mean(decode):.3f}"
            )
    results["seconds"] = time.perf_counter() - started
    target = HERE / "out" / "feature_bias.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=1))
    print(f"wrote {target} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
