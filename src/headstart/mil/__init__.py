"""Multiple-instance learning on bags of embeddings: `Bags`, loaders, aggregators, classifiers
(bag-level `MILClassifier`; instance-level `INS` and `SelfTrainingMIL`)."""

from headstart.mil import acmil, mamba  # noqa: F401  (register their aggregators)
from headstart.mil.aggregators import AGGREGATORS
from headstart.mil.bags import Bags
from headstart.mil.classic import BAG_SETS, CLASSIC, load_bags, read_classic
from headstart.mil.classifier import MILClassifier
from headstart.mil.digit_bags import make_bags, train_test_bags
from headstart.mil.feature_folder import read_feature_folder
from headstart.mil.ins import INS
from headstart.mil.instance_models import INSTANCE_CLASSIFIERS
from headstart.mil.regularizers import REGULARIZERS
from headstart.mil.self_training import SelfTrainingMIL

INSTANCE_CLASSIFIERS.register(
    "ins",
    "INS: prototype pseudo-labels + MoCo/SupCon + bag head (Qu 2024)",
    variant="on features: a Linear–ReLU encoder (128/256/128 wide) and feature dropout as the "
    "two views; 40 epochs, 1 warm-up; bag-head gradient clipped at 1; queue of pushed keys only",
)(INS)
INSTANCE_CLASSIFIERS.register(
    "self-training",
    "ours: self-training on the classifier's argmax",
    variant="not a published method: self-training on its own argmax with a top-instance rule, "
    "bags scored by their top instance",
)(SelfTrainingMIL)

__all__ = [
    "AGGREGATORS",
    "BAG_SETS",
    "CLASSIC",
    "INS",
    "INSTANCE_CLASSIFIERS",
    "REGULARIZERS",
    "Bags",
    "MILClassifier",
    "SelfTrainingMIL",
    "load_bags",
    "make_bags",
    "read_classic",
    "read_feature_folder",
    "train_test_bags",
]
