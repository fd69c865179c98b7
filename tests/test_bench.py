"""`headstart bench` (issue 27): identical samples across encoders, resume after a kill, a
failed cell reported while the others finish, the statistics against Demšar's tables and
scikit-posthocs, suites checked before any work, and the leaderboard page in Chromium."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from protocol_cases import CLASSES
from typer.testing import CliRunner

import headstart.protocol.evaluate as evaluate_module
from headstart import api
from headstart.bench import (
    DatasetSpec,
    EncoderSpec,
    Suite,
    TaskSpec,
    build_boards,
    friedman_nemenyi,
    load_suite,
    run_suite,
    suite_from_names,
)
from headstart.cli import app
from headstart.exceptions import DataError, UnknownNameError
from headstart.store import write_vectors

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _store(path: Path, seed: int, shift: float = 2.5, drop: int = 0, permute_test: bool = False):
    """Seven classes, 20 train / 10 test rows each; the same ids, labels and split for every
    `seed` (the features differ: another "encoder"); `drop` rows removed from the end."""
    y = np.repeat(np.arange(7), 30)
    split = np.where(np.arange(len(y)) % 30 < 20, "train", "test")
    if permute_test:
        test = np.flatnonzero(split == "test")
        y = y.copy()
        y[test] = np.random.default_rng(1).permutation(y[test])
    rng = np.random.default_rng(seed)
    X = (
        rng.normal(size=(len(y), 16))
        + shift * rng.normal(size=(7, 16))[np.repeat(np.arange(7), 30)]
    )
    keep = slice(0, len(y) - drop)
    return write_vectors(
        path,
        X[keep],
        ids=[f"item-{i}" for i in range(len(y))][keep],
        labels=[CLASSES[c] for c in y[keep]],
        split=split[keep],
        class_names=CLASSES,
    )


def _suite(datasets, encoders, tasks) -> Suite:
    return Suite(
        "test",
        [DatasetSpec(d, d) for d in datasets],
        [EncoderSpec(e, e) for e in encoders],
        [TaskSpec(label, protocol, settings) for label, protocol, settings in tasks],
    )


FEW_SHOT = ("few-shot", "few-shot", {"heads": ["prototype", "gda"], "shots": [1, 4], "seeds": 4})


def test_two_encoders_see_identical_sampled_ids_per_seed(tmp_path, monkeypatch):
    stores = {
        ("d", "a"): _store(tmp_path / "a", 0, shift=0.6),
        ("d", "b"): _store(tmp_path / "b", 1, shift=0.6),
    }
    drawn: list[tuple[str, int, tuple[str, ...]]] = []
    sampler = evaluate_module.k_shot_indices

    def spy(y, shots, seed, policy="error"):
        chosen = sampler(y, shots, seed, policy)
        drawn.append((str(shots), seed, tuple(chosen.tolist())))
        return chosen

    monkeypatch.setattr(evaluate_module, "k_shot_indices", spy)
    suite = _suite(["d"], ["a", "b"], [FEW_SHOT])
    run = run_suite(suite, tmp_path / "out", lambda d, e: stores[d.label, e.label], False)
    assert not run.failures
    half = len(drawn) // 2
    assert half == 2 * 4 and drawn[:half] == drawn[half:]  # encoder a's draws, then b's
    ids = stores["d", "a"].ids
    assert ids == stores["d", "b"].ids and len(set(ids)) == len(ids)
    board = build_boards(run.cells)[0]
    (winner,) = board.per_dataset
    assert not winner["unpaired"] and len(winner["differences"]) == 1
    difference = winner["differences"][0]
    a = board.scores["d"]["a"]["values"]
    b = board.scores["d"]["b"]["values"]
    loser = "a" if winner["best"] == "b" else "b"
    paired = [(a if loser == "a" else b)[s] - (b if loser == "a" else a)[s] for s in a]
    assert difference["difference"] == pytest.approx(np.mean(paired))


def test_stores_with_other_items_are_never_paired(tmp_path):
    stores = {"a": _store(tmp_path / "a", 0), "b": _store(tmp_path / "b", 1, drop=5)}
    suite = _suite(["d"], ["a", "b"], [FEW_SHOT])
    run = run_suite(suite, tmp_path / "out", lambda d, e: stores[e.label], False)
    (winner,) = build_boards(run.cells)[0].per_dataset
    loser = "b" if winner["best"] == "a" else "a"
    assert winner["unpaired"] == [loser] and not winner["differences"]
    page = api.bench.__globals__["render_leaderboard"](run, build_boards(run.cells))
    assert "not paired (other items) with" in page


def test_a_permutation_of_test_labels_changes_no_chosen_hyper_parameter(tmp_path):
    stores = {
        "plain": _store(tmp_path / "p", 0, shift=0.6),
        "permuted": _store(tmp_path / "q", 0, shift=0.6, permute_test=True),
    }
    task = ("fs", "few-shot", {"heads": ["linear-probe"], "shots": [4], "seeds": 3})
    run = run_suite(
        _suite(["d"], ["plain", "permuted"], [task]),
        tmp_path / "out",
        lambda d, e: stores[e.label],
        False,
    )
    plain, permuted = (c.results for c in run.cells)

    def choices(results):
        return [{k: v for k, v in c.items() if k != "store"} for c in results.chosen]

    assert choices(plain) and choices(plain) == choices(permuted)
    assert plain.rows != permuted.rows  # the test labels did change the scores


def test_a_failed_cell_is_reported_while_the_others_finish_and_reruns(tmp_path, monkeypatch):
    good = _store(tmp_path / "a", 0)

    def make(dataset, encoder):
        if encoder.label == "offline":
            raise DataError("weights for 'offline' are not in the cache and the hub is off")
        return good

    tasks = [("knn", "knn", {}), ("greedy", "few-shot", {"heads": ["gda"], "shots": [50]})]
    suite = _suite(["d"], ["good", "offline"], tasks)
    run = run_suite(suite, tmp_path / "out", make, False)
    status = {(c.encoder, c.task): (c.status, c.reason) for c in run.cells}
    assert status["good", "knn"][0] == "done"
    assert (
        status["good", "greedy"][0] == "failed"
        and "fewer training items" in status["good", "greedy"][1]
    )
    for task in ("knn", "greedy"):
        state, reason = status["offline", task]
        assert state == "failed" and reason.startswith("building the store: DataError: weights")
    record = json.loads((tmp_path / "out/cells/d/offline/knn/cell.json").read_text())
    assert record["status"] == "failed"
    calls = []
    import headstart.bench.run as bench_run

    original = bench_run.run_protocol
    monkeypatch.setattr(
        bench_run, "run_protocol", lambda *a, **k: calls.append(a[0]) or original(*a, **k)
    )
    again = run_suite(suite, tmp_path / "out", make, False)
    assert calls == ["few-shot"]  # the finished knn cell was skipped, the failed one rerun
    assert len(again.failures) == 3


def test_a_killed_bench_resumes_and_skips_finished_cells(tmp_path, monkeypatch):
    """A real kill (SIGKILL) while the second cell runs; the rerun keeps the first cell's
    record untouched and finishes the rest."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    command = [
        sys.executable,
        "-m",
        "headstart.cli",
        "bench",
        "--datasets",
        "digits",
        "--encoders",
        "raw-pixels",
        "--tasks",
        "knn,learning-curve",
        "-o",
        str(out),
        "-q",
    ]
    env = {**os.environ, "HEADSTART_CACHE": str(cache)}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = out / "cells/digits/raw-pixels/knn/cell.json"
    second = out / "cells/digits/raw-pixels/learning-curve/cell.json"
    deadline = time.monotonic() + 240
    while not first.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert first.exists(), child.stderr.read().decode()[-2000:]
    assert not second.exists()  # killed while the learning curve ran
    stamp = first.stat().st_mtime_ns
    monkeypatch.setenv("HEADSTART_CACHE", str(cache))
    result = CliRunner().invoke(app, [*command[3:-1], "-q", "--json"])
    assert result.exit_code == 0, result.output
    assert first.stat().st_mtime_ns == stamp
    assert json.loads(second.read_text())["status"] == "done"
    assert json.loads(result.output)["cells"] == 2


@pytest.mark.parametrize(
    ("k", "q"), [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (6, 2.850), (10, 3.164)]
)
def test_critical_difference_is_demsars_q_alpha_at_alpha_005(k, q):
    """Demšar (2006), Table 5(a): q_0.05 for k classifiers; CD = q √(k(k+1)/6N)."""
    n = 7
    matrix = np.random.default_rng(k).random((n, k))
    ranks = np.vstack([np.argsort(np.argsort(-row)) + 1.0 for row in matrix])
    found = friedman_nemenyi(matrix, ranks, [f"e{i}" for i in range(k)], 1.0)
    if k < 3:
        assert "skipped" in found
        return
    assert found["critical_difference"] == pytest.approx(
        q * math.sqrt(k * (k + 1) / (6 * n)), rel=2e-3
    )


def test_friedman_and_nemenyi_agree_with_scipy_and_scikit_posthocs():
    posthocs = pytest.importorskip("scikit_posthocs")
    from scipy import stats

    matrix = np.array(
        [
            [0.9, 0.8, 0.7, 0.6],
            [0.85, 0.8, 0.75, 0.5],
            [0.7, 0.75, 0.6, 0.4],
            [0.9, 0.7, 0.8, 0.6],
            [0.8, 0.7, 0.65, 0.66],
        ]
    )
    ranks = np.vstack([stats.rankdata(-row) for row in matrix])
    names = ["a", "b", "c", "d"]
    found = friedman_nemenyi(matrix, ranks, names, 1.0)
    statistic, p = stats.friedmanchisquare(*matrix.T)
    assert found["statistic"] == pytest.approx(statistic) and found["p_value"] == pytest.approx(p)
    peer = np.asarray(posthocs.posthoc_nemenyi_friedman(matrix))
    assert found["nemenyi_p"]["a"]["d"] == pytest.approx(peer[0, 3])
    assert found["best"] == "a" and found["average_ranks"]["d"] == pytest.approx(3.8)
    within = [
        e for e in names[1:] if found["average_ranks"][e] - 1.2 <= found["critical_difference"]
    ]
    assert found["tied_with_best"] == within


def test_suites_are_checked_before_any_work(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[datasets]]\nname = "digits"\n[[encoders]\nname = "raw-pixels"\n')
    with pytest.raises(DataError, match="line 3"):
        load_suite(bad)
    with pytest.raises(UnknownNameError, match="fashion-mnist"):
        suite_from_names(["fashion-mnst"], ["raw-pixels"], ["knn"])
    with pytest.raises(UnknownNameError, match="raw-pixels"):
        suite_from_names(["digits"], ["raw-pixel"], ["knn"])
    with pytest.raises(UnknownNameError, match="retrieval"):
        suite_from_names(["digits"], ["raw-pixels"], ["retreival"])
    with pytest.raises(DataError, match="reads bags"):
        suite_from_names(["digits"], ["raw-pixels"], ["mil-cv"])
    text = '[[datasets]]\nname = "digits"\n[[encoders]]\nname = "raw-pixels"\n'
    (tmp_path / "s.toml").write_text(text + "[tasks.knn]\nks = [0]\n")
    with pytest.raises(DataError, match=r"task 'knn'.*ks"):
        load_suite(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(text + '[tasks.knn]\nheads = ["gda"]\n')
    with pytest.raises(DataError, match="takes no setting 'heads'"):
        load_suite(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(text + "[tasks.knn]\n[[encoders]]\nname = 'raw-pixels'\n")
    with pytest.raises(DataError, match="used twice"):
        load_suite(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(text.replace("limit", "x") + "colour = 1\n[tasks.knn]\n")
    with pytest.raises(DataError, match="no key 'colour'"):
        load_suite(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(
        text + "seeds = 3\n[tasks.clustering]\n[tasks.knn]\n".replace("seeds = 3\n", "")
    )
    suite = load_suite(tmp_path / "s.toml")
    assert [t.protocol for t in suite.tasks] == ["clustering", "knn"]


def test_suite_wide_seeds_and_shots_go_to_the_tasks_that_take_them():
    suite = suite_from_names(["digits"], ["raw-pixels"], ["few-shot", "knn", "clustering"], 3, [2])
    settings = {t.label: t.settings for t in suite.tasks}
    assert settings == {
        "few-shot": {"seeds": 3, "shots": [2]},
        "knn": {},
        "clustering": {"seeds": 3},
    }


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Debian chromium is installed by .ci/run",
)
def test_leaderboard_renders_in_headless_chromium(tmp_path):
    """Three datasets × three encoders: the sentences, the encoder × task table, a CD diagram
    and a heat map per task, every figure decoded, no console error."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium must be installed (.ci/run installs Debian's chromium)"
    stores = {
        (d, e): _store(tmp_path / f"{d}-{e}", seed=10 * i + j, shift=(0.1, 0.4, 1.2)[j])
        for i, d in enumerate(["d1", "d2", "d3"])
        for j, e in enumerate(["weak", "mid", "strong"])
    }
    suite = _suite(
        ["d1", "d2", "d3"],
        ["weak", "mid", "strong"],
        [("clustering", "clustering", {"seeds": 2}), ("knn", "knn", {"ks": [5]})],
    )
    run = run_suite(suite, tmp_path / "out", lambda d, e: stores[d.label, e.label], False)
    page_html = api.bench.__globals__["render_leaderboard"](run, build_boards(run.cells))
    path = tmp_path / "leaderboard.html"
    path.write_text(page_html, encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        sentences = page.locator("#leaderboard ul.verdicts li").all_inner_texts()
        assert [s.split(":")[0] for s in sentences] == ["clustering", "knn"]
        assert all("best strong" in s for s in sentences), sentences
        assert page.locator("table.leaderboard tr").count() == 4
        captions = page.locator("figcaption").all_inner_texts()
        assert sum("critical-difference diagram" in c for c in captions) == 2
        assert sum("per encoder × dataset" in c for c in captions) == 2
        body = page.locator("body")
        assert body.get_attribute("data-figures") == body.get_attribute("data-figures-ok")
        assert int(body.get_attribute("data-figures")) >= 4
        browser.close()
    assert not errors, errors


def test_cells_as_ray_tasks_give_the_local_results(tmp_path):
    ray = pytest.importorskip("ray")
    from headstart.scale.engines import RaySettings

    stores = {e: _store(tmp_path / e, seed, shift=0.6) for seed, e in enumerate(("a", "b"))}
    tasks = [("knn", "knn", {"ks": [5]}), FEW_SHOT]
    suite = _suite(["d"], ["a", "b"], tasks)
    local = run_suite(suite, tmp_path / "local", lambda d, e: stores[e.label], False)
    try:
        remote = run_suite(
            suite, tmp_path / "ray", lambda d, e: stores[e.label], False, RaySettings(num_cpus=2)
        )
    finally:
        ray.shutdown()
    assert [c.status for c in remote.cells] == ["done"] * 4
    here, there = local.rows().to_pylist(), remote.rows().to_pylist()
    assert [{**r, "value": 0} for r in here] == [{**r, "value": 0} for r in there]
    scored = [i for i, r in enumerate(here) if r["metric"] != "fit_seconds"]  # not timings
    np.testing.assert_allclose(
        [here[i]["value"] for i in scored], [there[i]["value"] for i in scored]
    )
    assert (tmp_path / "ray/cells/d/b/few-shot/cell.json").is_file()


def test_a_toml_suite_with_an_adapted_encoder_runs_end_to_end(tmp_path, monkeypatch):
    """Registered names, a score naming head and shots, and an adapter trained per dataset
    on the encoder's store (cached: a rerun trains nothing and skips every cell)."""
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    (tmp_path / "suite.toml").write_text(
        """
name = "small"
seeds = 2
shots = [1, 4]

[[datasets]]
name = "digits"
limit = 150

[[encoders]]
name = "raw-pixels"

[[encoders]]
name = "raw-pixels"
adapter = { loss = "supcon", epochs = 2, adapter = "linear", batch_size = 32 }

[tasks.few-shot]
heads = ["prototype", "gda"]
score = { head = "gda", shots = 4 }

[tasks.knn]
ks = [5]
"""
    )
    result = api.bench(tmp_path / "suite.toml", tmp_path / "out", progress=False)
    assert not result.run.failures, [c.reason for c in result.run.failures]
    few_shot = result.boards[0]
    assert set(few_shot.scores["digits"]) == {"raw-pixels", "raw-pixels+supcon"}
    assert few_shot.scores["digits"]["raw-pixels"]["head"] == "gda"
    assert few_shot.scores["digits"]["raw-pixels"]["shots"] == "4"
    adapted = next(c for c in result.run.cells if c.encoder == "raw-pixels+supcon")
    plain = next(c for c in result.run.cells if c.encoder == "raw-pixels")
    assert adapted.items == plain.items and adapted.store_key != plain.store_key
    saved = json.loads((tmp_path / "out/leaderboard.json").read_text())
    assert saved["cells"] == 4 and len(saved["sentences"]) == 2
    again = api.bench(tmp_path / "suite.toml", tmp_path / "out", progress=False)
    assert [c.key for c in again.run.cells] == [c.key for c in result.run.cells]
    bad = (tmp_path / "suite.toml").read_text().replace('head = "gda"', 'head = "knn"')
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(DataError, match="head 'knn' is not among the task's heads"):
        load_suite(tmp_path / "bad.toml")


def test_a_task_may_name_the_datasets_it_runs_on(tmp_path):
    text = (
        '[[datasets]]\nname = "digits"\n[[datasets]]\nname = "copy-detection"\n'
        '[[encoders]]\nname = "raw-pixels"\n[tasks.knn]\n'
        '[tasks.instance-retrieval]\ndatasets = ["copy-detection"]\n'
    )
    (tmp_path / "s.toml").write_text(text)
    suite = load_suite(tmp_path / "s.toml")
    assert suite.size() == 3
    assert [t.label for t in suite.tasks_for(suite.datasets[0])] == ["knn"]
    (tmp_path / "s.toml").write_text(text.replace('["copy-detection"]', '["copydays"]'))
    with pytest.raises(DataError, match="names dataset 'copydays'"):
        load_suite(tmp_path / "s.toml")


def test_a_store_that_no_longer_builds_keeps_the_finished_cells(tmp_path):
    """A rerun offline (or on an emptied cache) must not turn finished cells into failures;
    results deleted by hand make their cell run again instead of stopping the bench."""
    good = _store(tmp_path / "a", 0)
    suite = _suite(["d"], ["a"], [("knn", "knn", {"ks": [5]}), ("cl", "clustering", {"seeds": 2})])
    first = run_suite(suite, tmp_path / "out", lambda d, e: good, False)
    assert not first.failures

    def offline(dataset, encoder):
        raise DataError("the hub is not reachable")

    again = run_suite(suite, tmp_path / "out", offline, False)
    assert [c.status for c in again.cells] == ["done", "done"]
    assert all("kept the finished result" in c.reason for c in again.cells)
    assert json.loads((tmp_path / "out/cells/d/a/knn/cell.json").read_text())["status"] == "done"
    shutil.rmtree(tmp_path / "out/cells/d/a/cl/results")
    third = run_suite(suite, tmp_path / "out", lambda d, e: good, False)
    assert [c.status for c in third.cells] == ["done", "done"] and not third.failures


def test_a_score_that_was_not_measured_is_named_not_silently_dropped(tmp_path):
    good = _store(tmp_path / "a", 0)
    task = TaskSpec("knn", "knn", {"ks": [5]}, {"head": "weighted"})
    run = run_suite(Suite("t", *_parts(task)), tmp_path / "o", lambda d, e: good, False)
    (board,) = build_boards(run.cells)
    assert not board.overall and "'weighted' at all was not measured" in board.problems[0]
    assert "knn-weighted k=5" in board.sentence()


def _parts(task):
    return [DatasetSpec("d", "d")], [EncoderSpec("a", "a")], [task]


def test_without_a_friedman_rejection_every_encoder_ties_with_the_best():
    """Demšar: the post-hoc test follows a rejected Friedman null only."""
    matrix = np.array([[0.5, 0.51, 0.49], [0.52, 0.5, 0.51], [0.5, 0.52, 0.5], [0.49, 0.5, 0.5]])
    ranks = np.vstack([np.argsort(np.argsort(-row)) + 1.0 for row in matrix])
    found = friedman_nemenyi(matrix, ranks, ["a", "b", "c"], 1.0)
    assert found["p_value"] >= 0.05 and found["no_difference"]
    assert sorted(found["tied_with_best"]) == sorted({"a", "b", "c"} - {found["best"]})
    same = friedman_nemenyi(np.ones((4, 3)), np.full((4, 3), 2.0), ["a", "b", "c"], 1.0, 1)
    assert same["no_difference"] and same["best"] == "b" and same["tied_with_best"] == ["a", "c"]


def test_the_leaderboard_json_has_no_nan(tmp_path, monkeypatch):
    """One-value cells (kNN, retrieval) have no interval: null in JSON, never a bare NaN."""
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    suite = suite_from_names(["digits"], ["raw-pixels"], ["knn"], limit=60)
    result = api.bench(suite, tmp_path / "out", progress=False)

    def refuse(token):
        raise AssertionError(f"{token} in the JSON")

    data = json.loads((tmp_path / "out/leaderboard.json").read_text(), parse_constant=refuse)
    assert data["tasks"][0]["overall"][0]["ci_low"] is None
    assert result.as_dict() == data
