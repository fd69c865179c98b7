"""Loading a bring-your-own store of 1,000,000 × 768 float32 vectors into one matrix.

Writes the store once (random vectors), then loads it in a fresh process and reports the load
time and the peak resident memory of that process against the matrix size (goal: < 1.5×).
Baseline in the same run: reading the same vectors from one .npy file with np.load. Each load
runs three times in a fresh process; the best time is reported with all three. The cost of
verifying every shard's checksum on read (issue 11) is the default load against
`check_integrity=False`, interleaved run by run.

Run: python benchmarks/store_load.py [--rows 1000000 --dim 768 --keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"

LOAD = """
import sys, time, json
import numpy as np
from headstart.store import Store

def high_water_mark():
    # VmHWM is reset by exec, unlike ru_maxrss, which a child inherits from its parent
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

before = high_water_mark()
start = time.perf_counter()
if sys.argv[2] == "store":
    matrix = Store(sys.argv[1]).vectors()  # shard checksums verified in a second thread
elif sys.argv[2] == "store-unchecked":
    matrix = Store(sys.argv[1], check_integrity=False).vectors()
else:
    matrix = np.load(sys.argv[1], allow_pickle=False)
seconds = time.perf_counter() - start
peak = high_water_mark()
print(json.dumps({"seconds": seconds, "peak_rss": peak, "rss_before": before,
                  "bytes": matrix.nbytes, "checksum": float(matrix[::9973].sum())}))
"""


def measure(path: Path, kind: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(path), kind], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def main() -> None:
    from headstart.store import write_vectors

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--keep", type=Path, default=None, help="folder to write into")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="headstart-bench-"))
    rng = np.random.default_rng(0)
    matrix = np.empty((args.rows, args.dim), np.float32)
    for start in range(0, args.rows, 100_000):
        block = matrix[start : start + 100_000]
        block[:] = rng.standard_normal(block.shape, dtype=np.float32)
    start = time.perf_counter()
    write_vectors(folder / "store", matrix, overwrite=True)
    write_s = time.perf_counter() - start
    np.save(folder / "vectors.npy", matrix)
    expected = float(matrix[::9973].sum())
    del matrix
    os.sync()  # let write-back finish, or it competes with the reads being timed
    runs, unchecked_runs = [], []
    for _ in range(3):  # interleaved, so that both see the same machine state
        runs.append(measure(folder / "store", "store"))
        unchecked_runs.append(measure(folder / "store", "store-unchecked"))
    store = min(runs, key=lambda r: r["seconds"])
    unchecked = min(unchecked_runs, key=lambda r: r["seconds"])
    npy = min(
        (measure(folder / "vectors.npy", "npy") for _ in range(3)), key=lambda r: r["seconds"]
    )
    assert store["checksum"] == expected == npy["checksum"] == unchecked["checksum"]
    gb = store["bytes"] / 1e9
    report = {
        "rows": args.rows,
        "dim": args.dim,
        "matrix_gb": round(gb, 3),
        "write_s": round(write_s, 1),
        "date": time.strftime("%Y-%m-%d"),
        "store_load_s": round(store["seconds"], 2),
        "store_load_runs_s": [round(r["seconds"], 2) for r in runs],
        "store_load_gb_s": round(gb / store["seconds"], 2),
        "unchecked_load_s": round(unchecked["seconds"], 2),
        "unchecked_load_runs_s": [round(r["seconds"], 2) for r in unchecked_runs],
        "checksum_cost": round(store["seconds"] / unchecked["seconds"] - 1, 3),
        "store_peak_rss_gb": round(store["peak_rss"] / 1e9, 3),
        "store_peak_over_matrix": round(store["peak_rss"] / store["bytes"], 3),
        "npy_load_s": round(npy["seconds"], 2),
        "npy_peak_rss_gb": round(npy["peak_rss"] / 1e9, 3),
        "rss_before_load_gb": round(store["rss_before"] / 1e9, 3),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "store_load.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
