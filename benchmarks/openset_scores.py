"""Open-set scoring speed (issue 13 goal: 10k test items against 60k support vectors, every
score in under 5 s on 2 cores).

60,000 support vectors of 1,280 dimensions (EfficientNet-Lite0's width) in 10 Gaussian
classes and 10,000 queries; a GDA head is fitted once. For every registered score: the time
to fit the scorer on the support set and to score the queries, best of 2. Baseline in the
same run: the head's own `predict_proba` on the same queries.

Run: python benchmarks/openset_scores.py [--support 60000 --queries 10000 --dim 1280]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from headstart.heads import create_head
from headstart.openset import OPEN_SET_SCORES, create_score


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--support", type=int, default=60_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=1280)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, args.dim)).astype(np.float32)
    y = rng.integers(0, 10, args.support)
    X = centres[y] + rng.normal(size=(args.support, args.dim)).astype(np.float32)
    queries = centres[rng.integers(0, 10, args.queries)] + rng.normal(
        size=(args.queries, args.dim)
    ).astype(np.float32)
    started = time.perf_counter()
    head = create_head("gda").fit(X, y)
    print(
        f"{args.support:,} × {args.dim} support, {args.queries:,} queries, "
        f"{torch.get_num_threads()} torch threads; GDA fit {time.perf_counter() - started:.1f} s"
    )
    baseline = best_of(2, lambda: head.predict_proba(queries))
    print(f"baseline predict_proba: {baseline:.2f} s")
    print("| score | fit (s) | score 10k (s) | score / predict_proba |")
    print("|---|---|---|---|")
    runs = [(name, {}) for name in OPEN_SET_SCORES.names()]
    runs.append(("knn", {"index": "ivf"}))  # FAISS inverted file, the `[index]` extra
    runs.append(("knn", {"dims": 128}))  # inner products in the top 128 directions
    for name, options in runs:
        scorer = create_score(name, **options)
        fit = best_of(2, lambda s=scorer: s.fit(head, X, y))
        score = best_of(2, lambda s=scorer: s.score(queries))  # the first call builds the IVF
        label = f"{name} ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else name
        print(f"| {label} | {fit:.2f} | {score:.2f} | {score / baseline:.1f}× |", flush=True)
    exact = create_score("knn").fit(head, X, y).score(queries)
    started = time.perf_counter()
    ivf = create_score("knn", index="ivf").fit(head, X, y)
    approximate = ivf.score(queries)
    first = time.perf_counter() - started
    same = np.mean(np.isclose(approximate, exact, atol=1e-5))
    print(
        f"ivf: first call (train + add + search) {first:.2f} s; the exact nearest neighbour "
        f"found for {same:.1%} of queries; AUROC-relevant rank correlation "
        f"{np.corrcoef(exact, approximate)[0, 1]:.4f}"
    )


if __name__ == "__main__":
    main()
