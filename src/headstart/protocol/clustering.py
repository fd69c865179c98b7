"""How well the classes separate without any label: k-means with k = the number of classes on
the test split's features, over seeds, scored against the labels by NMI, ARI and V-measure
(scikit-learn's metrics). Features are L2-normalised first (clustering by direction, as the
cosine heads read them); each seed is one k-means initialisation (`n_init=1`), so the interval
shows how much the answer depends on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

from headstart.protocol.base import (
    Metric,
    Protocol,
    Settings,
    StoreInputs,
    option,
    register_protocol,
)
from headstart.protocol.results import Results
from headstart.vector_index import unit_rows


def clustering_scores(X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    """NMI, ARI and V-measure of one k-means run (k = classes present in `y`) on unit rows."""
    k = len(np.unique(y))
    found = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(unit_rows(X))
    return {
        "nmi": float(normalized_mutual_info_score(y, found)),
        "ari": float(adjusted_rand_score(y, found)),
        "v_measure": float(v_measure_score(y, found)),
    }


@dataclass
class ClusteringSettings(Settings):
    seeds: int = option(10, "k-means initialisations", minimum=1)


@register_protocol
class Clustering(Protocol):
    """k-means with k = classes on the test split: NMI, ARI and V-measure against the labels."""

    name = "clustering"
    title = "Clusters of {encoder} features against the classes (no label used)"
    settings_type = ClusteringSettings
    metrics = (Metric("nmi"), Metric("ari", bounded=False), Metric("v_measure"))
    main_metric = "nmi"

    def total(self, settings: ClusteringSettings) -> int:
        return settings.seeds

    def run(
        self,
        inputs: StoreInputs,
        settings: ClusteringSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Results:
        results = inputs.results(
            seeds=settings.seeds, n_test=len(inputs.y_test), families={"k-means": "distance"}
        )
        for seed in range(settings.seeds):
            scores = clustering_scores(inputs.X_test, inputs.y_test, seed)
            results.add("k-means", "no labels", seed, scores)
            if progress:
                progress(1)
        return results
