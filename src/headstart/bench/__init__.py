"""`headstart bench`: encoders × datasets × tasks as a grid of (store, protocol, settings)
cells — the suite, the cells and their resumable records, pairing across encoders, the
leaderboard's statistics and its page."""

from headstart.bench.cells import CellRecord, cell_key
from headstart.bench.leaderboard import TaskBoard, build_boards, friedman_nemenyi
from headstart.bench.page import render_leaderboard
from headstart.bench.pairing import items_fingerprint, pairing_groups
from headstart.bench.run import BenchRun, load_run, run_suite
from headstart.bench.suite import (
    DatasetSpec,
    EncoderSpec,
    Suite,
    TaskSpec,
    load_suite,
    suite_from_names,
)

__all__ = [
    "BenchRun",
    "CellRecord",
    "DatasetSpec",
    "EncoderSpec",
    "Suite",
    "TaskBoard",
    "TaskSpec",
    "build_boards",
    "cell_key",
    "friedman_nemenyi",
    "items_fingerprint",
    "load_run",
    "load_suite",
    "pairing_groups",
    "render_leaderboard",
    "run_suite",
    "suite_from_names",
]
