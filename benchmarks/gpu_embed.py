"""GPU embedding throughput from JPEG files vs the model's forward-only ceiling (same run).

Writes N JPEGs (500×375, crops of scikit-image photos), then measures:
- ceiling: timm ViT-B/16 (random init), bf16, batch 256, forward only on device-resident input;
- headstart: `api.embed` over the JPEG folder (decode + resize in worker threads, bf16, batch
  256), end to end including the dataset fingerprint and the Parquet store.
Needs CUDA and timm. Run: python benchmarks/gpu_embed.py [--n 8192 --workers 16]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_jpegs(folder: Path, n: int, workers: int) -> None:
    from skimage import data

    photos = [getattr(data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
    photos = [Image.fromarray(p).convert("RGB").resize((800, 600)) for p in photos]

    def one(i: int) -> None:
        rng = np.random.default_rng(i)
        photo = photos[i % len(photos)]
        left, top = int(rng.integers(0, 300)), int(rng.integers(0, 225))
        crop = photo.crop((left, top, left + 500, top + 375))
        label = folder / f"class{i % 10}"
        crop.save(label / f"{i:06d}.jpg", quality=90)

    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))


def ceiling(batch: int, steps: int = 30) -> float:
    import timm

    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    model = model.cuda().eval()
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        for _ in range(5):
            model(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def cuda_matches_cpu(weights: Path) -> dict:
    """EfficientNet-Lite0 features of 64 digits on CUDA (fp32 and bf16) vs on CPU (fp32)."""
    from headstart.datasets import load_dataset
    from headstart.encoders import create_encoder

    items = list(load_dataset("digits").items[:64])
    cpu = create_encoder("efficientnet-lite0", weights=str(weights)).encode(items)
    scale = float(np.abs(cpu).max())
    result = {}
    for precision in ("fp32", "bf16"):
        gpu = create_encoder(
            "efficientnet-lite0", weights=str(weights), device="cuda", precision=precision
        ).encode(items)
        result[f"lite0_cuda_{precision}_max_rel_diff_vs_cpu"] = float(
            np.abs(gpu - cpu).max() / scale
        )
    return result


def main() -> None:
    from headstart import api
    from headstart.datasets import load_dataset

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 8)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument(
        "--lite0-weights",
        type=Path,
        default=None,
        help="EfficientNet-Lite0 weights file: also compare CUDA with CPU",
    )
    args = parser.parse_args()
    report: dict = {
        "device": torch.cuda.get_device_name(0),
        "images": args.n,
        "batch": args.batch,
        "workers": args.workers,
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "jpegs"
        start = time.perf_counter()
        write_jpegs(folder, args.n, args.workers)
        report["write_jpegs_s"] = round(time.perf_counter() - start, 1)
        report["ceiling_img_s"] = round(ceiling(args.batch), 1)
        dataset = load_dataset(str(folder))
        start = time.perf_counter()
        _ = dataset.fingerprint
        report["fingerprint_s"] = round(time.perf_counter() - start, 2)
        options = {"pretrained": False, "device": "cuda", "precision": "bf16"}
        for decode in ("threads", "processes"):
            start = time.perf_counter()
            result = api.embed(
                dataset,
                "timm:vit_base_patch16_224",
                Path(tmp) / decode,
                encoder_options=options,
                batch_size=args.batch,
                decode=decode,
                shard_size=4096,
                num_workers=args.workers,
                progress=False,
            )
            seconds = time.perf_counter() - start
            report[f"pipeline_{decode}_img_s"] = round(args.n / seconds, 1)
            report[f"pipeline_{decode}_pct_of_ceiling"] = round(
                100 * args.n / seconds / report["ceiling_img_s"], 1
            )
            assert len(result.store) == args.n and not result.store.failures
        # decode-only rates of the same preprocessing, to locate the bottleneck
        from headstart.encoders.preprocess import ImagePreprocessor

        prep = ImagePreprocessor(result.store.card)
        items = dataset.items[:4096]
        for name, pool in (
            ("threads", ThreadPoolExecutor(args.workers)),
            ("processes", ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"))),
        ):
            with pool:
                list(pool.map(prep, items[:256], chunksize=16))  # start the workers
                start = time.perf_counter()
                list(pool.map(prep, items, chunksize=64))
                report[f"decode_only_{name}_img_s"] = round(
                    len(items) / (time.perf_counter() - start), 1
                )
    if args.lite0_weights:
        report.update(cuda_matches_cpu(args.lite0_weights))
    print(json.dumps(report, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_embed.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
