"""Multiple-instance learning on bags of embeddings: `Bags`, loaders, aggregators, classifier."""

from headstart.mil import acmil, mamba  # noqa: F401  (register their aggregators)
from headstart.mil.aggregators import AGGREGATORS
from headstart.mil.bags import Bags
from headstart.mil.classic import BAG_SETS, CLASSIC, load_bags, read_classic
from headstart.mil.classifier import MILClassifier
from headstart.mil.digit_bags import make_bags, train_test_bags
from headstart.mil.feature_folder import read_feature_folder
from headstart.mil.ins import InstanceMILClassifier
from headstart.mil.regularizers import REGULARIZERS

__all__ = [
    "AGGREGATORS",
    "BAG_SETS",
    "CLASSIC",
    "REGULARIZERS",
    "Bags",
    "InstanceMILClassifier",
    "MILClassifier",
    "load_bags",
    "make_bags",
    "read_classic",
    "read_feature_folder",
    "train_test_bags",
]
