"""Spaces (threat models): pixel, transforms (kornia), latent directions."""

from semadv.spaces.base import Space
from semadv.spaces.editor import AttributeInterpolationSpace, FeatureInterpolationSpace, refine_reconstruction
from semadv.spaces.generator import GeneratorSpace
from semadv.spaces.latent import LatentSpace
from semadv.spaces.pixel import PixelSpace
from semadv.spaces.render import RenderSpace
from semadv.spaces.transform import PARAMS, TransformSpace, apply_transforms

__all__ = [
    "PARAMS",
    "AttributeInterpolationSpace",
    "FeatureInterpolationSpace",
    "GeneratorSpace",
    "LatentSpace",
    "PixelSpace",
    "RenderSpace",
    "Space",
    "TransformSpace",
    "apply_transforms",
    "refine_reconstruction",
]
