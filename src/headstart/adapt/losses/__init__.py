"""Contrastive losses for adapters, each a registered plug-in written from its paper."""

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair, create_loss
from headstart.adapt.losses.gated_pairs import GatedPairs
from headstart.adapt.losses.hard_contrastive import HardContrastive
from headstart.adapt.losses.info_nce import InfoNCE
from headstart.adapt.losses.mlcd import MLCD
from headstart.adapt.losses.mochi import MoCHi
from headstart.adapt.losses.sepclr import SepCLR
from headstart.adapt.losses.supcon import SupCon
from headstart.adapt.losses.susana import ICNN, ProtoTriplet
from headstart.adapt.losses.transitive import TransitiveInvariance

__all__ = [
    "ICNN",
    "LOSSES",
    "MLCD",
    "ContrastiveLoss",
    "GatedPairs",
    "HardContrastive",
    "InfoNCE",
    "MoCHi",
    "Pair",
    "ProtoTriplet",
    "SepCLR",
    "SupCon",
    "TransitiveInvariance",
    "create_loss",
]
