"""The evaluation protocol: k-shot sampling, metrics, confidence intervals, tidy results."""

from headstart.protocol.evaluate import evaluate_few_shot, learning_curve
from headstart.protocol.metrics import METRICS, classification_metrics
from headstart.protocol.results import Results
from headstart.protocol.sampling import ALL, k_shot_indices, parse_shots
from headstart.protocol.statistics import mean_ci

__all__ = [
    "ALL",
    "METRICS",
    "Results",
    "classification_metrics",
    "evaluate_few_shot",
    "k_shot_indices",
    "learning_curve",
    "mean_ci",
    "parse_shots",
]
