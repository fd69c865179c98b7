"""Data quality from the same embeddings: label errors from out-of-sample probabilities
(detectors by registry name), duplicates and train/test leaks, per-class outliers, feature
bias, and instance selection."""

from headstart.quality.confident_learning import (
    confident_joint,
    confident_thresholds,
    find_label_issues,
)
from headstart.quality.cross_fit import out_of_fold_proba
from headstart.quality.detectors import DEFAULT_DETECTORS, DETECTORS, Detection, run_detector
from headstart.quality.duplicates import exact_groups, near_groups, split_leaks
from headstart.quality.feature_bias import decodability, feature_bias, variance_explained
from headstart.quality.instance_selection import SELECTORS, select_instances
from headstart.quality.knn_disagreement import knn_disagreement
from headstart.quality.linear_separation import linear_separation_issues
from headstart.quality.outliers import class_outliers
from headstart.quality.small_loss import clean_probability, small_loss_issues

__all__ = [
    "DEFAULT_DETECTORS",
    "DETECTORS",
    "SELECTORS",
    "Detection",
    "class_outliers",
    "clean_probability",
    "confident_joint",
    "confident_thresholds",
    "decodability",
    "exact_groups",
    "feature_bias",
    "find_label_issues",
    "knn_disagreement",
    "linear_separation_issues",
    "near_groups",
    "out_of_fold_proba",
    "run_detector",
    "select_instances",
    "small_loss_issues",
    "split_leaks",
    "variance_explained",
]
