"""The Ray Data engine against the local engine: embedding 2,000 Fashion-MNIST images
(MNIST-5k when Fashion-MNIST is not installed) with EfficientNet-Lite0 on this machine.

Both write a new store (same key); the stores must be equal (ids, vectors within 1e-6).
Reported: wall time of each (Ray's includes starting a local Ray and its encoder actor),
and the ratio local / Ray. On one machine Ray
can only add overhead: its worth is a cluster, which this run cannot show.

Run: python benchmarks/ray_engine.py [--items 2000 --concurrency 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from headstart import api
from headstart.exceptions import DataError

OUT = Path(__file__).parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64, help="ray: items per actor call")
    args = parser.parse_args()
    try:
        data = api.prepare_dataset("fashion-mnist")
    except DataError:
        data = api.prepare_dataset("mnist5k")
    data = data.subset(np.arange(args.items))
    report: dict = {"items": args.items, "cores": os.cpu_count(), "dataset": data.name}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        local = api.embed(data, "efficientnet-lite0", root / "local", progress=False).store
        report["local_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        options = {"concurrency": args.concurrency, "batch_size": args.batch_size}
        ray = api.embed(
            data,
            "efficientnet-lite0",
            root / "ray",
            engine="ray",
            engine_options=options,
            progress=False,
        ).store
        report["ray_seconds"] = round(time.perf_counter() - started, 1)
        report["same_key"] = ray.key == local.key
        report["same_ids"] = ray.ids == local.ids
        report["max_abs_difference"] = float(np.abs(ray.vectors() - local.vectors()).max())
    report["local_over_ray"] = round(report["local_seconds"] / report["ray_seconds"], 2)
    OUT.mkdir(exist_ok=True)
    (OUT / "ray_engine.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
