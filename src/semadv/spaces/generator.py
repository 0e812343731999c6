"""GeneratorSpace: a trained layout-conditioned generator's style code as the search space (seed 004 §3).

AdvSPADE moves the search to training time: afterwards every (layout, style) gives an adversarial example
in one forward pass. The source is a batch of label maps (B, H, W); ``z`` is the style code (B, zdim),
z0 = 0 (the prior's mean), and the feasible set is a ball of ``radius`` standard deviations of the N(0, I)
prior, so random search over styles ("several styles per layout") and every other search apply.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from semadv.constraints import LpBall
from semadv.errors import InputError
from semadv.registry import register
from semadv.spaces.base import Space


@register("space", "generator")
class GeneratorSpace(Space):
    """``decode(z, layout) = G(layout, z)`` for a generator ``G(labels (B, H, W), z (B, zdim))``.

    The layout is the scene's ground truth and the style ``z`` does not move it: task truth is ``"fixed"``.
    """

    source = "layout"

    def __init__(
        self,
        generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        zdim: int,
        radius: float = 3.0,
        p: float = float("inf"),
    ) -> None:
        if not callable(generator):
            raise InputError(f"generator must be callable; got {type(generator).__name__}")
        if int(zdim) < 1:
            raise InputError(f"zdim must be >= 1; got {zdim!r}")
        super().__init__(LpBall(radius, p))
        self.generator, self.zdim = generator, int(zdim)

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.is_floating_point():
            raise InputError(
                f"GeneratorSpace source must be integer label maps (B, H, W); got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], self.zdim)

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x, z)
