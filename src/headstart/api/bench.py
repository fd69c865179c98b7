"""The verb `bench`: many encoders × datasets × tasks in one resumable run, compared on the
same samples, written as tidy rows, a leaderboard (JSON) and one HTML page.

Stores are built here, where the verbs live: a dataset embedded by an encoder (the cache is
reused), and for an adapted encoder an adapter trained on that store's training rows and the
store mapped through it (both kept beside the store, reused on a rerun)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.api.adapt import adapt, adapt_settings, transform
from headstart.api.embedding import cache_root, embed
from headstart.bench import (
    BenchRun,
    DatasetSpec,
    EncoderSpec,
    Suite,
    TaskBoard,
    build_boards,
    load_suite,
    render_leaderboard,
    run_suite,
)
from headstart.bench.robustness import corruption_points, effective_robustness
from headstart.datasets import load_dataset
from headstart.exceptions import DataError
from headstart.output import FolderLock, check_outputs
from headstart.scale.engines import RaySettings
from headstart.store import Store


@dataclass
class BenchResult:
    """A finished bench: every cell, a board per task, and where the files went."""

    run: BenchRun
    boards: list[TaskBoard]
    report: Path
    leaderboard: Path

    def as_dict(self) -> dict[str, Any]:
        """The leaderboard as `--json` prints it."""
        return json.loads(self.leaderboard.read_text())


def bench(
    suite: str | Path | Suite,
    out: str | Path,
    progress: bool = True,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
) -> BenchResult:
    """Run a suite (a TOML file or a `Suite`) into `out`: cells under `out/cells`, tidy rows
    in `out/rows.parquet`, the leaderboard in `out/leaderboard.json` and
    `out/leaderboard.html`. Stores go to the store cache (`$HEADSTART_CACHE`). A rerun skips
    finished cells; failed cells are listed with their reasons while the others finish.
    `engine` "ray" runs the cells as Ray tasks (`engine_options`: address, num_cpus); the
    stores are embedded by the driver first (embed large sets beforehand with
    `embed --engine ray`: the bench reuses cached stores)."""
    check_outputs(out)
    if engine not in ("local", "ray"):
        raise DataError(f"bench engine {engine!r}: choose local or ray")
    if engine == "local" and engine_options:
        raise DataError("engine options apply to --engine ray only")
    ray = None
    if engine == "ray":
        known = {"address", "num_cpus"}
        unknown = sorted(set(engine_options or {}) - known)
        if unknown:
            raise DataError(f"bench engine option {unknown[0]!r}: it takes {', '.join(known)}")
        ray = RaySettings(**(engine_options or {}))
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    root = cache_root() / "stores"

    def make_store(dataset: DatasetSpec, encoder: EncoderSpec) -> Store:
        return _store(dataset, encoder, root, progress)

    out = Path(out)
    with FolderLock(out, "bench folder"):  # one bench writes a folder at a time
        run = run_suite(suite, out, make_store, progress, ray)
        boards = build_boards(run.cells)
        board_file = out / "leaderboard.json"
        text = json.dumps(_finite(_leaderboard(run, boards)), indent=1, default=str)
        board_file.write_text(text)
        page = out / "leaderboard.html"
        page.write_text(render_leaderboard(run, boards), encoding="utf-8")
    return BenchResult(run, boards, page, board_file)


def _store(dataset: DatasetSpec, encoder: EncoderSpec, root: Path, progress: bool) -> Store:
    """The store of one dataset × encoder: embedded (cache hits reused), then adapted when the
    encoder names an adapter."""
    data = load_dataset(dataset.name, **dataset.options)  # its own options, `seed` included
    data = data.take(dataset.limit, 0) if dataset.limit else data
    options = encoder.options or None
    plain = embed(data, encoder.name, None, encoder_options=options, progress=progress).store
    if encoder.adapter is None:
        return plain
    spec = json.dumps(encoder.adapter, sort_keys=True)
    tag = hashlib.sha256(f"{plain.key}|{spec}".encode()).hexdigest()[:12]
    adapter_dir = root / f"{plain.root.name}-adapter-{tag}"
    adapted_dir = root / f"{plain.root.name}-adapted-{tag}"
    if (adapted_dir / "manifest.json").is_file():
        return Store(adapted_dir)
    shutil.rmtree(adapter_dir, ignore_errors=True)  # a killed run's half-written folders
    shutil.rmtree(adapted_dir, ignore_errors=True)
    options = {k: v for k, v in encoder.adapter.items() if k != "loss"}
    adapt(plain.root, adapter_dir, adapt_settings(encoder.adapter["loss"], options), progress)
    return transform(plain.root, adapter_dir, adapted_dir)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as None: JSON has no NaN (a one-seed interval has no
    bounds), and a file with the bare token is not JSON to other readers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _leaderboard(run: BenchRun, boards: list[TaskBoard]) -> dict[str, Any]:
    """Sentences, per-task boards and failed cells, as JSON."""
    return {
        "suite": run.suite.name,
        "sentences": [b.sentence() for b in boards],
        "tasks": [
            {
                "task": b.task,
                "metric": b.metric,
                "lower_is_better": b.lower_is_better,
                "overall": b.overall,
                "friedman": b.friedman,
                "per_dataset": b.per_dataset,
                "scores": {
                    d: {e: {k: v for k, v in c.items() if k != "values"} for e, c in by.items()}
                    for d, by in b.scores.items()
                },
            }
            for b in boards
        ],
        "effective_robustness": [
            {"task": task, "dataset": dataset, "encoders": effective_robustness(points)}
            for (task, dataset), points in corruption_points(run).items()
        ],
        "failed": [c.describe() for c in run.failures],
        "cells": len(run.cells),
    }
