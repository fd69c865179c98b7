"""Issue 29: slide → bags speed and memory on generated slides, on this machine.

1. Patches per second, read and embedded (efficientnet-lite0, 256 px at 0.5 µm/px from a
   0.25 µm/px slide): `headstart slides embed` (tissue, grid, patches read from pyramid level 1
   in worker threads, batched) against a naive loop that reads each patch at level 0 (512 px)
   with OpenSlide, resizes it to 256 and embeds it, one patch after another in one thread.
   The same patches (the first `--naive` of the bag store, in its order) for both; the naive
   vectors are checked against the store's (same pixels → same vectors, within 1e-4, where
   the level-1 tile equals the level-0 region shrunk; generated levels are rendered, not
   shrunk, so they are compared by cosine instead).
2. Peak memory (RSS of a fresh process) of embedding a whole 12,800², 25,600² and 51,200²
   slide: it must not grow with the slide. Measured twice: as glibc comes (up to 8 malloc
   arenas per core, which the worker threads fill over a run) and with MALLOC_ARENA_MAX=2.
3. Eight 12,800² slides, local engine against `--engine ray` (one task per slide, two at a
   time, one core each); the bags must be equal.

Run: python benchmarks/slides_throughput.py [--side 51200] [--naive 600]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
OUT = HERE / "out" / "slides"
ENCODER = "efficientnet-lite0"


def child(kind: str, slides: Path, out: Path, naive: int) -> None:
    """Runs in a fresh process; prints one JSON line (seconds, patches, peak RSS in MiB)."""
    import threading

    import psutil

    from headstart import api

    samples: list[float] = []  # RSS (MiB) every 0.25 s: does it level off or keep growing?

    def sample() -> None:
        while True:
            samples.append(psutil.Process().memory_info().rss / 2**20)
            time.sleep(0.25)

    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    if kind == "embed":
        record = api.embed_slides(slides, ENCODER, out, mpp=0.5, progress=False)
        patches = sum(s.get("patches", 0) for s in record["slides"])
        result = {"patches": patches}
    else:
        result = naive_loop(slides, out, naive)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)] for q in (1, 2, 3, 4)]
    result["rss_mib_at_quarters"] = [round(v) for v in quarters]
    print(json.dumps(result))


def naive_loop(slides: Path, bags: Path, count: int) -> dict:
    """Read each patch at level 0 with OpenSlide, resize, embed — one at a time."""
    import openslide
    from PIL import Image

    from headstart.encoders import create_encoder
    from headstart.mil.bag_store import read_bag_record, slide_patches

    record = read_bag_record(bags)
    slide = record["slides"][0]
    vectors, coords = slide_patches(bags, slide)
    coords, vectors = coords[:count], vectors[:count]
    encoder = create_encoder(ENCODER)
    handle = openslide.OpenSlide(slide["path"])
    size0 = int(slide["patch_size_level0"])
    out = []
    started = time.perf_counter()
    for x, y in coords:
        region = handle.read_region((int(x), int(y)), 0, (size0, size0)).convert("RGB")
        patch = np.asarray(region.resize((256, 256), Image.Resampling.BOX))
        out.append(encoder.encode_batch([encoder.prepare(patch)])[0])
    seconds = time.perf_counter() - started
    naive = np.asarray(out)
    cosine = (
        (naive * vectors).sum(1) / np.linalg.norm(naive, axis=1) / np.linalg.norm(vectors, axis=1)
    )
    return {
        "patches": len(coords),
        "loop_seconds": round(seconds, 2),
        "cosine_median": round(float(np.median(cosine)), 4),
        "cosine_min": round(float(cosine.min()), 4),
    }


def run(kind: str, slides: Path, out: Path, naive: int = 0, arenas: str | None = None) -> dict:
    import os

    env = dict(os.environ) | ({"MALLOC_ARENA_MAX": arenas} if arenas else {})
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        str(slides),
        str(out),
        "--naive",
        str(naive),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=7200, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def make(folder: Path, side: int, seed: int) -> Path:
    from headstart.slides.synthetic import SlideSpec, write_slide

    path = folder / f"slide-{side}.tiff"
    if not path.is_file():
        started = time.perf_counter()
        write_slide(path, SlideSpec(side, side, 0.25, positive=True, seed=seed))
        seconds = time.perf_counter() - started
        print(f"wrote {path} ({path.stat().st_size / 2**20:,.0f} MiB) in {seconds:.0f} s")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=51200)
    parser.add_argument("--memory-only", action="store_true", help="skip the naive loop and Ray")
    parser.add_argument("--small", default="12800,25600", help="smaller sides, for memory")
    parser.add_argument("--naive", type=int, default=600, help="patches in the naive loop")
    parser.add_argument("--many", type=int, default=8, help="slides in the local-vs-Ray run")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SLIDES", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]), args.naive)
        return
    import shutil

    report: dict = {"encoder": ENCODER, "patch": "256 px at 0.5 µm/px from a 0.25 µm/px slide"}
    sides = [int(v) for v in args.small.split(",")] + [args.side]
    for seed, side in enumerate(sides, start=1):
        folder = OUT / f"side-{side}"
        folder.mkdir(parents=True, exist_ok=True)
        make(folder, side, seed)
        shutil.rmtree(OUT / f"bags-{side}", ignore_errors=True)
        embedded = run("embed", folder, OUT / f"bags-{side}")
        embedded["patches_per_second"] = round(embedded["patches"] / embedded["seconds"], 2)
        shutil.rmtree(OUT / f"bags-{side}-arenas", ignore_errors=True)
        embedded["peak_mib_arena_max_2"] = run(
            "embed", folder, OUT / f"bags-{side}-arenas", arenas="2"
        )["peak_mib"]
        report[f"headstart_{side}"] = embedded
        print(side, embedded, flush=True)
    if args.memory_only:
        print(json.dumps(report, indent=1))
        (OUT / "memory.json").write_text(json.dumps(report, indent=1))
        return
    naive = run("naive", OUT / f"side-{args.side}", OUT / f"bags-{args.side}", args.naive)
    naive["patches_per_second"] = round(naive["patches"] / naive["loop_seconds"], 2)
    report["naive_level0"] = naive
    report["speedup"] = round(
        report[f"headstart_{args.side}"]["patches_per_second"] / naive["patches_per_second"], 2
    )
    print("naive", naive, flush=True)
    report["ray"] = local_vs_ray(args.many)
    print(json.dumps(report, indent=1))
    (OUT / "throughput.json").write_text(json.dumps(report, indent=1))


def local_vs_ray(count: int) -> dict:
    """Eight 12,800² slides: the local engine, then one Ray task per slide (two at a time)."""
    import shutil

    from headstart import api
    from headstart.mil.bag_store import read_bag_record, slide_patches
    from headstart.slides.synthetic import make_slide_set

    folder = OUT / "many"
    if not (folder / "labels.csv").is_file():
        make_slide_set(folder, count, 12800, mpp=0.25, seed=3)
    times = {}
    for engine, options in (("local", None), ("ray", {"concurrency": 2})):
        shutil.rmtree(OUT / f"many-{engine}", ignore_errors=True)
        started = time.perf_counter()
        api.embed_slides(
            folder,
            ENCODER,
            OUT / f"many-{engine}",
            mpp=0.5,
            engine=engine,
            engine_options=options,
            progress=False,
        )
        times[engine] = round(time.perf_counter() - started, 1)
    same = True
    for slide in read_bag_record(OUT / "many-local")["slides"]:
        a, ca = slide_patches(OUT / "many-local", slide)
        b, cb = slide_patches(OUT / "many-ray", slide)
        same &= bool(np.array_equal(ca, cb) and np.allclose(a, b, atol=1e-5))
    patches = sum(s["patches"] for s in read_bag_record(OUT / "many-local")["slides"])
    return {"slides": count, "patches": patches, "seconds": times, "bags_equal": same}


if __name__ == "__main__":
    main()
