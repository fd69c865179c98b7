"""kNN and clustering on frozen features (issue 27's first tasks), each against an independent
computation or scikit-learn on the same data."""

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
from headstart.protocol.metrics import BOUNDED_METRICS, LOWER_IS_BETTER


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
            assert (metric.name in BOUNDED_METRICS) == metric.bounded, (entry.name, metric)
            assert (metric.name in LOWER_IS_BETTER) == metric.lower_is_better, (entry.name, metric)
