"""Multiple-instance learning on bags of embeddings: `Bags`, loaders, aggregators, classifier."""

from headstart.mil.aggregators import AGGREGATORS
from headstart.mil.bags import Bags
from headstart.mil.classic import BAG_SETS, CLASSIC, load_bags, read_classic
from headstart.mil.classifier import MILClassifier

__all__ = [
    "AGGREGATORS",
    "BAG_SETS",
    "CLASSIC",
    "Bags",
    "MILClassifier",
    "load_bags",
    "read_classic",
]
