"""Procedural worlds (differentiable renders with exact ground truth) and bundled real digits."""

from semadv.worlds.base import ParamDef, Render, World
from semadv.worlds.datasets import WorldDataset, generate
from semadv.worlds.digits import load_digits
from semadv.worlds.faces import FacesWorld, same_identity
from semadv.worlds.streets import StreetsWorld

__all__ = [
    "FacesWorld",
    "ParamDef",
    "Render",
    "StreetsWorld",
    "World",
    "WorldDataset",
    "generate",
    "load_digits",
    "same_identity",
]
