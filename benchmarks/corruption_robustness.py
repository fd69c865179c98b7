"""Issue 28's corruption suite at full size: Fashion-MNIST's first 1,000 test images (and
1,000 training images, class-balanced) under all 19 corruptions × 5 severities, embedded by
efficientnet-lite0, heads fitted on the clean training rows; raw pixels as the mCE baseline.

Timed on this machine, in one run:
- clean: embedding the 1,000 test images with efficientnet-lite0 (the named baseline cost);
- per corruption: building its 5 corrupted test stores for both encoders (each of the 5,000
  corrupted images made once, embedded by both), and corrupting alone (no encoder) 200 of the
  images at the 5 severities, scaled to the split, so the cost splits into corruption and
  encoders;
- the protocol itself once the stores are cached (fits and predictions only).
Then the accuracies: clean, per corruption and severity, mean corruption accuracy, relative
drop, mCE and relative mCE against raw pixels, for two heads.

Run: python benchmarks/corruption_robustness.py [--limit 1000] [--out benchmarks/out/corruptions]
Set HEADSTART_CACHE to keep the corrupted stores somewhere other than ~/.cache/headstart.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np

from headstart import api
from headstart.datasets import load_dataset
from headstart.datasets.corrupted import CorruptedImage, CorruptionRecipe, item_seed
from headstart.datasets.corruptions import CORRUPTIONS, FAMILIES
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
from headstart.output import cache_root
from headstart.workflow.corrupted import baseline_store, corrupted_tests
from headstart.workflow.splits import train_test_rows

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=1000, help="images per split")
    parser.add_argument("--encoder", default="efficientnet-lite0")
    parser.add_argument("--baseline", default="raw-pixels")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "corruptions")
    parser.add_argument(
        "--only",
        default="",
        help="time these corruptions again (their cached stores removed first) and the clean "
        "embedding, keeping the other corruptions' times from the last run",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_dataset("fashion-mnist").take(args.limit, 0)
    store = api.embed(data, args.encoder, args.out / "store", progress=False).store
    train, test, rule = train_test_rows(store)
    encoder, baseline = create_encoder(args.encoder), create_encoder(args.baseline)
    baseline_store(store, args.baseline)  # the clean baseline rows, before the clock starts

    clean_test = data.subset(np.flatnonzero(data.split == "test"))
    shutil.rmtree(args.out / "clean-test", ignore_errors=True)  # embedded anew, not reused
    started = time.perf_counter()
    embed_dataset(clean_test, encoder, args.out / "clean-test", progress=False)
    clean_seconds = time.perf_counter() - started

    where = {item_id: i for i, item_id in enumerate(data.ids)}
    sample = [data.items[where[store.ids[r]]] for r in test[:200]]
    saved = args.out / "corruption_robustness.json"
    only = [n for n in args.only.split(",") if n]
    costs = json.loads(saved.read_text())["corruptions"] if only and saved.is_file() else {}
    for name in only or CORRUPTIONS.names():
        for folder in (cache_root() / "stores" / "corrupted").glob(f"*-{name}_*"):
            if folder.is_dir():  # not the lock files beside them
                shutil.rmtree(folder)
        recipes = [CorruptionRecipe(name, s) for s in range(1, 6)]
        started = time.perf_counter()
        for recipe in recipes:
            for item, row in zip(sample, test[:200], strict=True):
                CorruptedImage(item, recipe, item_seed(recipe, store.ids[row])).render()
        render = (time.perf_counter() - started) * len(test) / len(sample)
        started = time.perf_counter()
        corrupted_tests(store, test, recipes, [encoder, baseline])
        total = time.perf_counter() - started
        costs[name] = {"family": FAMILIES[name], "seconds": total, "corrupting_seconds": render}
        print(f"{name:18s} {total:7.1f} s, 5 severities (corrupting alone ≈ {render:5.1f} s)")

    started = time.perf_counter()
    results = api.run_protocol(
        "corruptions",
        store.root,
        args.out / "results",
        progress=False,
        heads=["linear-probe", "prototype"],
        shots=["all"],
        seeds=1,
        corruption_size=224,
        baseline=args.baseline,
    )
    protocol_seconds = time.perf_counter() - started
    summary = {
        (r["head"], r["metric"]): r["mean"] for r in results.summary() if r["shots"] == "all"
    }
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, 2 cores",
        "encoder": args.encoder,
        "baseline": args.baseline,
        "test_images": len(test),
        "train_images": len(train),
        "split": rule,
        "clean_embed_seconds": clean_seconds,
        "corruptions": costs,
        "suite_seconds": sum(c["seconds"] for c in costs.values()),
        "protocol_seconds_cached": protocol_seconds,
        "accuracy": {f"{h}|{m}": v for (h, m), v in summary.items()},
    }
    record["retimed"] = only
    saved.write_text(json.dumps(record, indent=1))
    print(f"clean embedding of {len(test)} test images: {clean_seconds:.1f} s")
    print(f"suite: {record['suite_seconds']:.0f} s; protocol once cached {protocol_seconds:.1f} s")
    for head in ("linear-probe", "prototype"):
        metrics = ("store_accuracy", "accuracy", "corruption_accuracy", "relative_drop", "mce")
        parts = [f"{m} {summary[(head, m)]:.3f}" for m in (*metrics, "relative_mce")]
        print(head, " · ".join(parts))


if __name__ == "__main__":
    main()
