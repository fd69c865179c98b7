"""Heads: scikit-learn classifiers fitted on embeddings, registered by name."""

from headstart.heads.base import Head
from headstart.heads.cones import ConES
from headstart.heads.dfr import DFR
from headstart.heads.fudd import FuDD
from headstart.heads.gaussian_nb import GaussianNB
from headstart.heads.gda import GDA
from headstart.heads.gda_zero_shot import GDAZeroShot
from headstart.heads.group_reweighted import GroupReweighted
from headstart.heads.knn import KNN
from headstart.heads.lbl2vec import Lbl2Vec
from headstart.heads.linear_probe import LinearProbe
from headstart.heads.linear_svm import LinearSVM
from headstart.heads.mlp import MLP
from headstart.heads.prototype import Prototype
from headstart.heads.rcal import RCAL
from headstart.heads.registry import (
    HEADS,
    create_head,
    learns_from_groups,
    list_heads,
    needs_class_texts,
)
from headstart.heads.teen import TEEN
from headstart.heads.tfup import TFUP
from headstart.heads.tip_adapter import TipAdapter, TipAdapterF
from headstart.heads.transforms import Center, L2Normalize, PCAWhiten
from headstart.heads.zero_shot import ZeroShot

__all__ = [
    "DFR",
    "GDA",
    "HEADS",
    "KNN",
    "MLP",
    "RCAL",
    "TEEN",
    "TFUP",
    "Center",
    "ConES",
    "FuDD",
    "GDAZeroShot",
    "GaussianNB",
    "GroupReweighted",
    "Head",
    "L2Normalize",
    "Lbl2Vec",
    "LinearProbe",
    "LinearSVM",
    "PCAWhiten",
    "Prototype",
    "TipAdapter",
    "TipAdapterF",
    "ZeroShot",
    "create_head",
    "learns_from_groups",
    "list_heads",
    "needs_class_texts",
]
