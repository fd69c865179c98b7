"""Instance retrieval with junk (issue 27): AP against scikit-learn, the Oxford trapezoid AP
against its published loop, junk ignored, ground truth from ids or a CSV, and the offline
copy-detection set."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from headstart import api
from headstart.exceptions import DataError
from headstart.protocol.instance_retrieval import (
    average_precision,
    oxford_average_precision,
    ranked_positions,
    truth_from_ids,
)
from headstart.store import write_vectors


def _store(path, seed=0):
    """Three originals with two noisy copies each, a junk view of each, and distractors."""
    rng = np.random.default_rng(seed)
    originals = rng.normal(size=(3, 12))
    ids, rows, labels, split = [], [], [], []
    for i, name in enumerate(("a", "b", "c")):
        ids.append(f"orig/{name}")
        rows.append(originals[i])
        labels.append(name)
        split.append("train")
        for k in range(2):
            ids.append(f"copy/{name}/{k}")
            rows.append(originals[i] + 0.9 * rng.normal(size=12))
            labels.append(name)
            split.append("test")
        ids.append(f"junk/{name}/part")
        rows.append(originals[i] + 0.3 * rng.normal(size=12))
        labels.append("")
        split.append("train")
    for d in range(20):
        ids.append(f"distractor/{d}")
        rows.append(rng.normal(size=12))
        labels.append("")
        split.append("train")
    return write_vectors(path, np.array(rows), ids=ids, labels=labels, split=split)


def test_ap_is_scikit_learns_on_the_ranking_without_junk():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.normal(size=30)
        positives = rng.choice(30, size=rng.integers(1, 5), replace=False)
        junk = np.setdiff1d(rng.choice(30, size=4, replace=False), positives)
        order = np.argsort(-scores, kind="stable")
        ranks = ranked_positions(order, positives, junk)
        kept = np.setdiff1d(np.arange(30), junk)
        truth = np.isin(kept, positives)
        assert average_precision(ranks, len(positives)) == pytest.approx(
            average_precision_score(truth, scores[kept])
        )


def test_oxford_ap_is_the_trapezoid_of_compute_ap():
    """Oxford/Paris compute_ap: for the j-th positive (0-based) at rank r, precision before
    j/r (1 at r = 0) and after (j+1)/(r+1), averaged, times 1/n_positives."""
    ranks, n = np.array([0, 2, 3, 9]), 5
    expected = ((1 + 1) / 2 + (1 / 2 + 2 / 3) / 2 + (2 / 3 + 3 / 4) / 2 + (3 / 9 + 4 / 10) / 2) / n
    assert oxford_average_precision(ranks, n) == pytest.approx(expected)
    assert average_precision(ranks, n) == pytest.approx((1 + 2 / 3 + 3 / 4 + 4 / 10) / n)


def test_junk_ranked_first_changes_nothing():
    order = np.array([7, 3, 5, 1, 2])
    with_junk = ranked_positions(order, np.array([5, 2]), np.array([7, 3]))
    without = ranked_positions(np.array([5, 1, 2]), np.array([5, 2]), np.array([], int))
    np.testing.assert_array_equal(with_junk, without)


def test_ground_truth_from_ids_and_from_a_csv_agree(tmp_path):
    store = _store(tmp_path / "s")
    by_ids = api.run_protocol("instance-retrieval", store.root, progress=False)
    truth = truth_from_ids(store.ids)
    lines = ["query,positives,junk"]
    for query, positive, junk in zip(truth.queries, truth.positives, truth.junk, strict=True):
        names = lambda rows: "|".join(store.ids[r] for r in rows)  # noqa: E731
        lines.append(f"{store.ids[query]},{names(positive)},{names(junk)}")
    (tmp_path / "truth.csv").write_text("\n".join(lines) + "\n")
    by_csv = api.run_protocol(
        "instance-retrieval", store.root, progress=False, ground_truth=str(tmp_path / "truth.csv")
    )
    for metric in ("map", "map_oxford", "recall_at_1"):
        value = by_ids.values("instance retrieval", "all", metric)[0]
        assert by_csv.values("instance retrieval", "all", metric)[0] == pytest.approx(value)
    assert by_ids.provenance["n_queries"] == 6 and by_ids.provenance["n_gallery"] == 26
    (tmp_path / "bad.csv").write_text("query,positives\ncopy/a/0,orig/zzz\n")
    with pytest.raises(DataError, match=r"line 2: positives id 'orig/zzz'"):
        api.run_protocol(
            "instance-retrieval", store.root, progress=False, ground_truth=str(tmp_path / "bad.csv")
        )


def test_the_copy_detection_set_holds_its_ground_truth_in_its_ids():
    data = api.prepare_dataset("copy-detection")
    truth = truth_from_ids(data.ids)
    assert len(truth.queries) == 70 and all(len(p) == 1 for p in truth.positives)
    motorcycle = [
        j for q, j in zip(truth.queries, truth.junk, strict=True) if "motorcycle" in data.ids[q]
    ]
    assert all(len(j) == 2 for j in motorcycle)  # the corner crop and the right camera
    assert sum(i.startswith("distractor/") for i in data.ids) == 314
    assert set(data.split[truth.queries]) == {"test"}


def test_a_csv_whose_positive_is_junk_or_a_query_is_refused(tmp_path):
    store = _store(tmp_path / "s")
    cases = {
        "copy/a/0,orig/a,orig/a": "both a positive and junk",
        "copy/a/0,copy/a/1": "is a query and also",
    }
    for line, message in cases.items():
        (tmp_path / "t.csv").write_text(f"query,positives,junk\n{line}\ncopy/a/1,orig/a\n")
        with pytest.raises(DataError, match=message):
            api.run_protocol(
                "instance-retrieval",
                store.root,
                progress=False,
                ground_truth=str(tmp_path / "t.csv"),
            )
