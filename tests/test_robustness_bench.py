"""The robustness tasks of `headstart bench` (issue 28): corruptions and groups cells, and
effective robustness — each encoder against the logit-linear trend of the others — checked
against a computation by hand."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from headstart import api
from headstart.bench.robustness import effective_robustness


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def test_effective_robustness_is_the_distance_to_the_other_encoders_line():
    points = {"a": (0.9, 0.6), "b": (0.8, 0.45), "c": (0.7, 0.35), "d": (0.85, 0.7)}
    found = effective_robustness(points)
    for encoder, (clean, shifted) in points.items():
        others = [p for e, p in points.items() if e != encoder]
        slope, intercept = np.polyfit(
            _logit([c for c, _ in others]), _logit([s for _, s in others]), 1
        )
        expected = 1 / (1 + np.exp(-(intercept + slope * _logit(clean))))
        assert found[encoder]["effective_robustness"] == pytest.approx(shifted - expected)
    assert found["d"]["effective_robustness"] > 0.1  # above the line the others draw
    lonely = effective_robustness({"a": (0.9, 0.6), "b": (0.8, 0.5)})
    assert lonely["a"]["effective_robustness"] is None  # one other encoder: no line


SUITE = """
name = "robustness"
seeds = 2

[[datasets]]
name = "digits"
limit = 60

[[datasets]]
name = "colored-mnist"
limit = 200

[[encoders]]
name = "raw-pixels"

[[encoders]]
label = "pixels-14"
name = "raw-pixels"
options = { size = 14 }

[[encoders]]
label = "pixels-rgb"
name = "raw-pixels"
options = { color = "RGB" }

[tasks.corruptions]
heads = ["prototype"]
corruptions = ["gaussian-noise", "contrast"]
severities = [1, 3]
corruption_size = 32
datasets = ["digits"]

[tasks.groups]
heads = ["prototype", "group-reweighted"]
shots = [20]
min_group = 5
score = { head = "group-reweighted" }
datasets = ["colored-mnist"]
"""


def test_corruptions_and_groups_run_as_bench_tasks_with_effective_robustness(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    (tmp_path / "suite.toml").write_text(SUITE)
    api.bench(tmp_path / "suite.toml", tmp_path / "out", progress=False)
    board = json.loads((tmp_path / "out" / "leaderboard.json").read_text())
    assert not board["failed"]
    tasks = {t["task"]: t for t in board["tasks"]}
    assert tasks["corruptions"]["metric"] == "corruption_accuracy"
    assert tasks["groups"]["metric"] == "worst_group_accuracy"
    (robust,) = board["effective_robustness"]
    assert robust["task"] == "corruptions" and robust["dataset"] == "digits"
    points = {}
    table = pq.read_table(tmp_path / "out" / "rows.parquet").to_pylist()
    for encoder in ("raw-pixels", "pixels-14", "pixels-rgb"):
        mine = [r for r in table if r["encoder"] == encoder and r["task"] == "corruptions"]
        clean = np.mean([r["value"] for r in mine if r["metric"] == "accuracy"])
        shifted = np.mean([r["value"] for r in mine if r["metric"] == "corruption_accuracy"])
        points[encoder] = (clean, shifted)
    expected = effective_robustness(points)
    for encoder, values in robust["encoders"].items():
        assert values["effective_robustness"] == pytest.approx(
            expected[encoder]["effective_robustness"]
        )
    page = (tmp_path / "out" / "leaderboard.html").read_text()
    assert "Robustness to corruptions" in page and "effective robustness" in page
