"""Load test of `headstart serve` under a real uvicorn on 127.0.0.1.

An EfficientNet-Lite0 prototype model (fitted on 500 Fashion-MNIST training images, or
MNIST-5k) is served twice: with micro-batching (up to 32 items per encoder call, 5 ms wait)
and one request at a time (`--max-batch 1`). Each time, `--requests` single-image uploads
(test images, PNG) are sent at concurrency 16 by an asyncio httpx client, bounded in count and
in time (`--seconds` per phase). Reported: errors, p50/p99 latency, requests per second, and
the throughput ratio (goal ≥ 3×). Then 100 oversized and 100 corrupt uploads are mixed among
200 good ones against the batching server: each must be refused with its code (413 / 422),
the good ones answered, and /healthz still up. For scale, the encoder alone (in this process,
no HTTP): items per second at batch 1 and in the service's chunks, the ceiling of any
batching gain on this machine.

Run: python benchmarks/serve_load.py [--requests 1000 --concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from headstart import api
from headstart.exceptions import DataError

OUT = Path(__file__).parent / "out"


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def build_model(root: Path) -> tuple[Path, list[bytes]]:
    """A Lite0 prototype model and the test images to send, as PNG bytes."""
    try:
        data = api.prepare_dataset("fashion-mnist", limit=500)
    except DataError:
        data = api.prepare_dataset("mnist5k", limit=500)
    train = np.flatnonzero(np.asarray(data.split).astype(str) != "test")
    test = np.flatnonzero(np.asarray(data.split).astype(str) == "test")
    store = api.embed(data.subset(train), "efficientnet-lite0", root / "store", progress=False)
    api.fit(store.store.root, "prototype", root / "fashion")
    return root / "fashion", [png(np.asarray(data.items[i], np.uint8)) for i in test]


def start(model: Path, max_batch: int, max_upload_mb: float) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "headstart.cli", "serve", str(model), "--port", str(port)]
    command += ["--max-batch", str(max_batch), "--max-upload-mb", str(max_upload_mb)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.25)
    process.kill()
    raise RuntimeError("the server did not start within 120 s")


async def load(url: str, bodies: list[tuple[str, bytes]], concurrency: int, seconds: float):
    """Send every body once (bounded by `seconds`); (status, latency) per request sent."""
    results: list[tuple[int, float, str]] = []
    queue = list(enumerate(bodies))
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            while queue and time.monotonic() < deadline:
                _, (name, body) = queue.pop(0)
                started = time.perf_counter()
                try:
                    answer = await client.post(
                        f"{url}/v1/models/fashion/predict",
                        files=[("files", (name, body, "image/png"))],
                    )
                    status = answer.status_code
                except httpx.HTTPError:
                    status = -1
                results.append((status, time.perf_counter() - started, name))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return results, wall


def summarise(results, wall: float) -> dict:
    latency = np.array([r[1] for r in results]) * 1000
    return {
        "requests": len(results),
        "errors": int(sum(r[0] != 200 for r in results)),
        "p50_ms": round(float(np.percentile(latency, 50)), 1),
        "p99_ms": round(float(np.percentile(latency, 99)), 1),
        "per_second": round(len(results) / wall, 1),
        "seconds": round(wall, 1),
    }


def encoder_ceiling(images: list[bytes], n: int = 256) -> dict:
    """Lite0 alone on prepared images: one at a time vs in the service's chunk size."""
    from headstart.embedding import default_batch_size
    from headstart.encoders import create_encoder

    encoder = create_encoder("efficientnet-lite0")
    prepared = [encoder.prepare(images[i % len(images)]) for i in range(n)]
    chunk = default_batch_size("cpu")
    encoder.encode_batch(prepared[:chunk])  # warm-up
    rates = {}
    for label, size in (("batch_1_per_second", 1), (f"batch_{chunk}_per_second", chunk)):
        started = time.perf_counter()
        for i in range(0, n, size):
            encoder.encode_batch(prepared[i : i + size])
        rates[label] = round(n / (time.perf_counter() - started), 1)
    first, second = rates.values()
    return rates | {"ceiling_ratio": round(second / first, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=600, help="bound on each phase")
    args = parser.parse_args()
    report: dict = {"machine": f"{os.cpu_count()} cores", "requests": args.requests}
    with tempfile.TemporaryDirectory() as folder:
        model, images = build_model(Path(folder))
        report["encoder_only"] = encoder_ceiling(images)
        print("encoder_only", report["encoder_only"], flush=True)
        good = [(f"test-{i}.png", images[i % len(images)]) for i in range(args.requests)]
        for label, max_batch in (("batched", 32), ("one_at_a_time", 1)):
            process, url = start(model, max_batch, 1.0)
            try:
                asyncio.run(load(url, good[:32], args.concurrency, 60))  # warm-up
                results, wall = asyncio.run(load(url, good, args.concurrency, args.seconds))
                report[label] = summarise(results, wall)
                print(label, report[label], flush=True)
            finally:
                process.terminate()
                process.wait(30)
        report["speedup"] = round(
            report["batched"]["per_second"] / report["one_at_a_time"]["per_second"], 2
        )
        rng = np.random.default_rng(0)
        oversized = [(f"big-{i}.png", rng.bytes(1_200_000)) for i in range(100)]  # > 1 MB
        corrupt = [(f"bad-{i}.png", b"\x89PNG\r\n\x1a\n" + rng.bytes(2_000)) for i in range(100)]
        mixed = good[:200] + oversized + corrupt
        order = rng.permutation(len(mixed))
        process, url = start(model, 32, 1.0)
        try:
            results, wall = asyncio.run(
                load(url, [mixed[i] for i in order], args.concurrency, args.seconds)
            )
            codes: dict[str, dict[str, int]] = {}
            for status, _, name in results:
                kind = name.split("-")[0]
                codes.setdefault(kind, {}).setdefault(str(status), 0)
                codes[kind][str(status)] += 1
            healthy = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            report["mixed"] = {"codes": codes, "healthy_after": healthy, "seconds": round(wall, 1)}
            print("mixed", report["mixed"], flush=True)
        finally:
            process.terminate()
            process.wait(30)
    OUT.mkdir(exist_ok=True)
    (OUT / "serve_load.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
