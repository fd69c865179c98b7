"""Issue 27's first tasks on real stores: kNN (DINO's weighted vote, a majority vote) and
k-means clustering, per encoder on the same items, with the kNN's time against scikit-learn's
brute-force cosine KNeighborsClassifier on the same queries (measured in the same run).

Run: python benchmarks/representation_tasks.py [--limit 500] [--out runs/representation_tasks.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from headstart import api
from headstart.protocol.knn import knn_votes
from headstart.workflow.splits import train_test


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=500, help="items per split (class-balanced)")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "runs" / "representation_tasks.json"
    )
    args = parser.parse_args()
    found = []
    with tempfile.TemporaryDirectory() as folder:
        for encoder in ("raw-pixels", "efficientnet-lite0"):
            store = api.embed(
                "fashion-mnist", encoder, Path(folder) / encoder, limit=args.limit, progress=False
            ).store
            knn = api.run_protocol("knn", store.root, progress=False, ks=[20])
            clusters = api.run_protocol("clustering", store.root, progress=False, seeds=10)
            X_train, y_train, X_test, y_test, _ = train_test(store)
            started = time.perf_counter()
            ours = knn_votes(X_train, y_train, X_test, 20, int(y_train.max()) + 1, None)
            ours_s = time.perf_counter() - started
            started = time.perf_counter()
            reference = KNeighborsClassifier(20, metric="cosine", algorithm="brute")
            theirs = reference.fit(X_train, y_train).predict(X_test)
            theirs_s = time.perf_counter() - started
            row = {
                "encoder": encoder,
                "n_train": len(y_train),
                "n_test": len(y_test),
                "summary": [
                    {k: s[k] for k in ("head", "metric", "mean", "ci_low", "ci_high", "seeds")}
                    for s in knn.summary() + clusters.summary()
                ],
                "majority_equals_sklearn": bool(np.array_equal(ours.argmax(1), theirs)),
                "knn_seconds": ours_s,
                "sklearn_seconds": theirs_s,
            }
            found.append(row)
            print(json.dumps(row, indent=1), flush=True)
    args.out.write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
