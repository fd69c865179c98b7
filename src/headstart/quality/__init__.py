"""Data quality from the same embeddings: label errors found from out-of-sample probabilities."""

from headstart.quality.confident_learning import (
    confident_joint,
    confident_thresholds,
    find_label_issues,
)
from headstart.quality.cross_fit import out_of_fold_proba
from headstart.quality.duplicates import exact_groups, near_groups, split_leaks
from headstart.quality.instance_selection import SELECTORS, select_instances
from headstart.quality.knn_disagreement import knn_disagreement
from headstart.quality.linear_separation import linear_separation_issues
from headstart.quality.outliers import class_outliers
from headstart.quality.small_loss import clean_probability, small_loss_issues

__all__ = [
    "SELECTORS",
    "class_outliers",
    "clean_probability",
    "confident_joint",
    "confident_thresholds",
    "exact_groups",
    "find_label_issues",
    "knn_disagreement",
    "linear_separation_issues",
    "near_groups",
    "out_of_fold_proba",
    "select_instances",
    "small_loss_issues",
    "split_leaks",
]
