"""kNN, clustering and retrieval on frozen features (issue 27's tasks), each against an
independent computation or a peer library (scikit-learn, pytorch-metric-learning) on the same
data."""

from __future__ import annotations

import numpy as np
import pytest
from protocol_cases import fixed_store
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score
from sklearn.neighbors import KNeighborsClassifier
from typer.testing import CliRunner

from headstart import api
from headstart.cli import app
from headstart.exceptions import DataError
from headstart.protocol import PROTOCOLS, Results
from headstart.protocol.knn import knn_votes, top_accuracy
from headstart.protocol.metrics import LOWER_IS_BETTER, is_bounded
from headstart.protocol.retrieval import ranked_relevance, retrieval_metrics


def _blobs(seed=0, n=300, classes=8, dim=12):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(size=(n, dim)) + 1.5 * rng.normal(size=(classes, dim))[y], y


def test_weighted_knn_is_dinos_vote_computed_query_by_query():
    """DINO's eval_knn: unit features, the k most similar training rows, exp(cos / T) summed
    per class; top-5 = the class among the first min(5, k) classes by vote mass."""
    X, y = _blobs()
    support, labels, queries, truth = X[:200], y[:200], X[200:], y[200:]
    votes = knn_votes(support, labels, queries, 20, 8, 0.07)
    unit = support / np.linalg.norm(support, axis=1, keepdims=True)
    hits1 = hits5 = 0
    for query, target in zip(queries, truth, strict=True):
        cos = unit @ (query / np.linalg.norm(query))
        nearest = np.argsort(-cos)[:20]
        mass = np.zeros(8)
        for i in nearest:
            mass[labels[i]] += np.exp(cos[i] / 0.07)
        ranked = np.argsort(-mass, kind="stable")
        hits1 += ranked[0] == target
        hits5 += target in ranked[:5]
    assert top_accuracy(votes, truth, 1) == pytest.approx(hits1 / len(truth))
    assert top_accuracy(votes, truth, 5) == pytest.approx(hits5 / len(truth))


@pytest.mark.parametrize("k", [1, 5, 20])
def test_majority_knn_predicts_as_scikit_learn_does(k):
    X, y = _blobs(seed=1)
    votes = knn_votes(X[:200], y[:200], X[200:], k, 8, None)
    reference = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute")
    expected = reference.fit(X[:200], y[:200]).predict(X[200:])
    np.testing.assert_array_equal(votes.argmax(axis=1), expected)


def test_queries_are_scored_in_chunks_without_changing_a_vote(monkeypatch):
    import headstart.protocol.knn as knn

    X, y = _blobs(seed=2)
    whole = knn_votes(X[:200], y[:200], X[200:], 7, 8, 0.07)
    monkeypatch.setattr(knn, "CHUNK", 13)
    np.testing.assert_allclose(knn_votes(X[:200], y[:200], X[200:], 7, 8, 0.07), whole)


def test_clustering_scores_are_scikit_learns_on_one_kmeans_run_per_seed(tmp_path):
    store = fixed_store(tmp_path / "s")
    results = api.run_protocol("clustering", store.root, progress=False, seeds=3)
    X, y = store.vectors(), store.labels
    test = np.flatnonzero(np.asarray(store.split) == "test")
    unit = X[test] / np.linalg.norm(X[test], axis=1, keepdims=True)
    for seed in range(3):
        found = KMeans(n_clusters=7, n_init=1, random_state=seed).fit_predict(unit)
        expected = {
            "nmi": normalized_mutual_info_score(y[test], found),
            "ari": adjusted_rand_score(y[test], found),
            "v_measure": v_measure_score(y[test], found),
        }
        for metric, value in expected.items():
            assert results.values("k-means", "no labels", metric)[seed] == pytest.approx(value)
    assert results.provenance["protocol"] == "clustering" and results.main_metric == "nmi"


def test_knn_runs_from_the_cli_on_a_store(tmp_path):
    store = fixed_store(tmp_path / "s")
    result = CliRunner().invoke(
        app, ["eval", "knn", str(store.root), "--ks", "5,20", "-o", str(tmp_path / "r"), "-q"]
    )
    assert result.exit_code == 0, result.output
    saved = api.load_results(tmp_path / "r") if hasattr(api, "load_results") else None

    saved = Results.load(tmp_path / "r")
    assert set(saved.heads()) == {
        f"knn-{v} k={k}" for v in ("weighted", "majority") for k in (5, 20)
    }
    assert saved.provenance["settings"]["ks"] == [5, 20]
    with pytest.raises(DataError, match="variants"):
        api.run_protocol("knn", store.root, progress=False, variants=["cosine"])


def test_every_declared_metric_agrees_with_the_interval_and_ranking_sets():
    """A protocol's Metric(bounded, lower_is_better) is what intervals and rankings use."""
    for entry in PROTOCOLS:
        for metric in entry.factory().metrics:
            assert is_bounded(metric.name) == metric.bounded, (entry.name, metric)
            assert (metric.name in LOWER_IS_BETTER) == metric.lower_is_better, (entry.name, metric)


def _musgrave_by_hand(gallery, g_labels, queries, q_labels, ks):
    """Musgrave et al. 2020 §3.2, one query at a time from a full argsort."""
    unit = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    totals = {"map_at_r": 0.0, "r_precision": 0.0, "precision_at_1": 0.0}
    totals |= {f"recall_at_{k}": 0.0 for k in ks}
    for query, label in zip(queries, q_labels, strict=True):
        order = np.argsort(-(unit @ (query / np.linalg.norm(query))))
        relevant = g_labels[order] == label
        r = int((g_labels == label).sum())
        precision = [relevant[: i + 1].mean() for i in range(r)]
        hits = relevant[:r]
        totals["map_at_r"] += sum(p for p, h in zip(precision, hits, strict=True) if h) / r
        totals["r_precision"] += relevant[:r].mean()
        totals["precision_at_1"] += relevant[0]
        for k in ks:
            totals[f"recall_at_{k}"] += relevant[:k].any()
    return {name: value / len(queries) for name, value in totals.items()}


def test_retrieval_metrics_are_musgraves_definitions_computed_query_by_query():
    X, y = _blobs(seed=3, classes=5)
    gallery, g_labels, queries, q_labels = X[:220], y[:220], X[220:], y[220:]
    counts = np.bincount(g_labels)
    relevant = ranked_relevance(gallery, g_labels, queries, q_labels, counts.max())
    found = retrieval_metrics(relevant, counts[q_labels], [1, 5])
    expected = _musgrave_by_hand(gallery, g_labels, queries, q_labels, [1, 5])
    assert found == pytest.approx(expected)
    assert found["recall_at_1"] == found["precision_at_1"]


def test_retrieval_metrics_agree_with_pytorch_metric_learning():
    """The peer: pytorch-metric-learning's AccuracyCalculator on the same unit vectors (its
    L2 neighbours on unit rows are cosine neighbours), queries not in the reference set."""
    calculator = pytest.importorskip("pytorch_metric_learning.utils.accuracy_calculator")
    import torch

    X, y = _blobs(seed=4, classes=6)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    gallery, g_labels, queries, q_labels = unit[:200], y[:200], unit[200:], y[200:]
    peer = calculator.AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r")
    ).get_accuracy(
        torch.tensor(queries, dtype=torch.float32),
        torch.tensor(q_labels),
        torch.tensor(gallery, dtype=torch.float32),
        torch.tensor(g_labels),
        ref_includes_query=False,
    )
    counts = np.bincount(g_labels)
    relevant = ranked_relevance(gallery, g_labels, queries, q_labels, counts.max())
    ours = retrieval_metrics(relevant, counts[q_labels], [1])
    assert ours["precision_at_1"] == pytest.approx(peer["precision_at_1"], abs=1e-6)
    assert ours["r_precision"] == pytest.approx(peer["r_precision"], abs=1e-6)
    assert ours["map_at_r"] == pytest.approx(peer["mean_average_precision_at_r"], abs=1e-6)


def test_retrieval_on_a_store_from_the_cli_and_through_a_faiss_index(tmp_path):
    store = fixed_store(tmp_path / "s")
    command = ["eval", "retrieval", str(store.root), "--recall-ks", "1,4"]
    result = CliRunner().invoke(app, [*command, "-o", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 0, result.output
    saved = Results.load(tmp_path / "r")
    assert saved.main_metric == "map_at_r"
    exact = saved.values("retrieval", "all", "map_at_r")[0]
    assert 0 < exact <= 1 and saved.values("retrieval", "all", "recall_at_4")[0] >= exact
    pytest.importorskip("faiss")
    flat = api.run_protocol("retrieval", store.root, progress=False, index="flat")
    assert flat.values("retrieval", "all", "map_at_r")[0] == pytest.approx(exact)
    with pytest.raises(DataError, match="index"):
        api.run_protocol("retrieval", store.root, progress=False, index="lsh")
