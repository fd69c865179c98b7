"""What a head looks at: input attributions of head ∘ encoder for images (captum's vanilla
gradients, input × gradient, integrated gradients and SmoothGrad), their saliency maps and
heat maps, and the pixel masks DiffROAR retrains on."""

from headstart.attributions.differentiable import DifferentiableModel, differentiable_model
from headstart.attributions.maps import heat_map, keep_mask, saliency
from headstart.attributions.methods import ATTRIBUTIONS, attribute

__all__ = [
    "ATTRIBUTIONS",
    "DifferentiableModel",
    "attribute",
    "differentiable_model",
    "heat_map",
    "keep_mask",
    "saliency",
]
