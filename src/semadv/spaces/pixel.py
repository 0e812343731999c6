"""PixelSpace: the classical additive threat model x + δ (baselines; seed 003 §3's starting point)."""

from __future__ import annotations

import math

import torch

from semadv.constraints import Constraint, LpBall
from semadv.errors import ConstraintError
from semadv.registry import register
from semadv.spaces.base import Space


@register("space", "pixel")
class PixelSpace(Space):
    """``z`` is the perturbed image itself; feasible set = constraint around ``x`` ∩ [0, 1] pixel box.

    Args:
        eps: radius of the Lp ball (ignored when ``constraint`` is given).
        p: ``inf`` or ``2``.
        constraint: any :class:`~semadv.constraints.Constraint` on the flattened image
            (e.g. an :class:`~semadv.constraints.Ellipsoid` over pixels).

    For L2 / ellipsoid balls the projection onto ball ∩ box is done as ball projection then clamping
    (as in Madry et al. 2018 and torchattacks); for L∞ this is the exact projection.
    """

    def __init__(
        self, eps: float | None = None, p: float | str = math.inf, constraint: Constraint | None = None
    ) -> None:
        if constraint is None:
            if eps is None:
                raise ConstraintError("PixelSpace needs eps or a constraint")
            constraint = LpBall(eps, p)
        super().__init__(constraint)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach().clone()

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return z

    def extra_project(self, z: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        return z.clamp(0.0, 1.0)

    def bounds(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros_like(z0), torch.ones_like(z0)
