"""What the report's summary rests on (issue 12): the best head and the heads that cannot be
told from it, intervals that respect their metric's range, and stores kept apart."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from headstart.protocol import Results
from headstart.protocol.statistics import bounded_ci, metric_ci


def rows(store: str, head: str, scores, shots=1, metric="accuracy"):
    return [
        {"store": store, "head": head, "shots": shots, "seed": s, "metric": metric, "value": v}
        for s, v in enumerate(scores)
    ]


def test_not_distinguishable_means_the_paired_interval_holds_zero():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.8, 10)  # seed-to-seed spread shared by every head
    best = base + 0.05
    noise = rng.normal(0.0, 0.01, 10)
    close = best - 0.004 - (noise - noise.mean())  # a little lower, within the seed noise
    worse = best - 0.1 - rng.normal(0.0, 0.005, 10)
    results = Results(
        rows=rows("s", "best", best)
        + rows("s", "close", close)
        + rows("s", "worse", worse)
        + rows("s", "once", [0.7])
    )
    (top,) = results.best("accuracy")
    assert top["head"] == "best" and top["tied"] == ["close"] and top["untested"] == ["once"]
    # the rule, computed independently: a t interval of the paired differences
    for other, tied in ((close, True), (worse, False)):
        diff = other - best
        half = stats.t.ppf(0.975, 9) * diff.std(ddof=1) / math.sqrt(10)
        assert (diff.mean() - half <= 0 <= diff.mean() + half) == tied


def test_lower_is_better_metrics_pick_the_smallest_mean():
    results = Results(
        rows=rows("s", "a", [0.9, 1.0], metric="nll") + rows("s", "b", [0.5, 0.6], metric="nll")
    )
    assert results.best("nll")[0]["head"] == "b"


def test_bounded_intervals_never_leave_zero_one():
    rng = np.random.default_rng(1)
    for case in range(200):
        n = int(rng.integers(2, 30))
        values = rng.beta(rng.uniform(0.2, 5), rng.uniform(0.2, 5), n)
        if case % 4 == 0:  # exact zeros and ones, as accuracy and ECE produce
            values[rng.random(n) < 0.3] = float(rng.integers(0, 2))
        ratio = 1 / 9 if case % 3 == 0 else None
        mean, low, high = bounded_ci(values, 0.95, ratio)
        assert 0.0 <= low <= mean <= high <= 1.0, (case, values)
    assert metric_ci("nll", np.array([0.1, 0.9, 0.2]))[1] < 0  # NLL keeps the plain t interval
    assert bounded_ci(np.array([1.0, 1.0, 1.0]))[1:] == (1.0, 1.0)


def test_the_issue_ece_case_no_longer_goes_below_zero():
    """Issue 12: ECE at 1 shot over 3 seeds had the interval [−0.022, 0.469]."""
    values = np.array([0.05, 0.12, 0.45])
    _, plain_low, _ = metric_ci("nll", values)  # what the plain t gives
    _, low, high = metric_ci("ece", values)
    assert plain_low < 0 < low and high < 1


def test_results_from_two_stores_are_never_paired():
    rng = np.random.default_rng(2)
    shared = rng.uniform(0.5, 0.9, 8)
    results = Results(
        rows=rows("lite0", "a", shared)
        + rows("lite0", "b", shared - 0.02)
        + rows("conse", "a", shared - 0.3)  # the same head name, other features
        + rows("conse", "c", shared - 0.25)
    )
    assert results.stores() == ["lite0", "conse"]
    for d in results.paired("a") + results.against_best():
        assert {d["head"], d["reference"]} in ({"a", "b"}, {"a", "c"})
        mine = results.values(d["head"], 1, "accuracy", d["store"])
        theirs = results.values(d["reference"], 1, "accuracy", d["store"])
        expected = np.mean([mine[s] - theirs[s] for s in mine])
        assert d["mean_difference"] == pytest.approx(expected)
    best = {b["store"]: b["head"] for b in results.best()}
    assert best == {"lite0": "a", "conse": "c"}
    summary = {(s["store"], s["head"]): s["mean"] for s in results.summary()}
    assert summary[("lite0", "a")] == pytest.approx(shared.mean())
    assert summary[("conse", "a")] == pytest.approx(shared.mean() - 0.3)
