"""Data quality from the same embeddings: label errors found from out-of-sample probabilities."""

from headstart.quality.confident_learning import (
    confident_joint,
    confident_thresholds,
    find_label_issues,
)
from headstart.quality.cross_fit import out_of_fold_proba

__all__ = ["confident_joint", "confident_thresholds", "find_label_issues", "out_of_fold_proba"]
