"""The evaluation protocols: k-shot sampling, metrics, confidence intervals, tidy results,
and every registered protocol (one file each; the import lines below register them)."""

from headstart.protocol import (  # noqa: F401  (each import registers a protocol)
    base_novel,
    clustering,
    common_corruptions,
    few_shot,
    geometry,
    groups,
    incremental,
    instance_retrieval,
    knn,
    learning_curve,
    mil_cv,
    open_set,
    retrieval,
)
from headstart.protocol.base import PROTOCOLS, Protocol, Settings, protocol_of
from headstart.protocol.evaluate import evaluate_few_shot
from headstart.protocol.metrics import METRICS, classification_metrics
from headstart.protocol.results import Results
from headstart.protocol.sampling import ALL, k_shot_indices, parse_shots
from headstart.protocol.statistics import mean_ci

__all__ = [
    "ALL",
    "METRICS",
    "PROTOCOLS",
    "Protocol",
    "Results",
    "Settings",
    "classification_metrics",
    "evaluate_few_shot",
    "k_shot_indices",
    "mean_ci",
    "parse_shots",
    "protocol_of",
]
