"""RenderSpace: a world's scene parameters as the search space; decode = render (seed 003, τ(x, θ)).

The source ``x`` is a batch of scene parameter vectors ``(B, P)`` of a :class:`~semadv.worlds.base.World`.
The searched parameters are named with a per-parameter budget in physical units; the feasible set is the
box ``|θᵢ − θᵢ⁰| ≤ budgetᵢ`` intersected with the world's physical ranges (which also keeps scenes valid:
e.g. cars stay on the road because their lateral range is the road). The metric is L∞ in budget-normalised
units, so PGD's ``alpha = 0.1`` moves every parameter by a tenth of its budget per step.

With ``metric="ellipsoid"`` the feasible set is instead seed 002's minimum-volume ellipsoid enclosing the
budgets, ‖θ − θ⁰‖_M ≤ 1 with M = diag(budgetᵢ⁻²) (§3.2), so searches use the M-metric (PGD steps, FAB's
minimum ‖η‖_M) and the exact projection of §3.3.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from semadv.constraints import Constraint, Ellipsoid, LpBall
from semadv.errors import ConstraintError, InputError
from semadv.registry import register
from semadv.spaces.base import Space
from semadv.truth import check_truth
from semadv.worlds.base import World


@register("space", "render")
class RenderSpace(Space):
    """Search named scene parameters of ``world`` within per-parameter ``budgets`` (physical units).

    Example: ``RenderSpace(StreetsWorld(), {"car0_hue": 0.2, "car0_x": 0.3, "fog": 1.0})``.
    """

    source = "scene"

    def __init__(self, world: World, budgets: Mapping[str, float], metric: str = "linf") -> None:
        if not budgets:
            raise InputError(
                f"RenderSpace needs at least one budget; {world.name} parameters: {', '.join(world.names)}"
            )
        self.world = world
        self.names = tuple(budgets)
        self.idx = torch.tensor([world.index(n) for n in self.names])
        for n, b in budgets.items():
            if not float(b) > 0:
                raise ConstraintError(f"budget of {n!r} must be > 0; got {b!r}")
        scale = [float(budgets[n]) for n in self.names]
        constraint: Constraint
        if metric == "linf":
            constraint = LpBall(1.0, float("inf"), scale=scale)
        elif metric == "ellipsoid":
            constraint = Ellipsoid.from_budgets(scale)
        else:
            raise InputError(f"metric must be 'linf' or 'ellipsoid'; got {metric!r}")
        self.metric = metric
        self.budgets = torch.tensor(scale)
        super().__init__(constraint)

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        return self.world.validate(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.idx.to(x.device)].detach().clone()

    def scene(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Full scene parameters with the searched ones replaced by ``z`` (differentiable in z)."""
        if z.dim() != 2 or z.shape[1] != len(self.names):
            raise InputError(f"z must have shape (B, {len(self.names)}) for {self.names}; got {tuple(z.shape)}")
        return x.index_copy(1, self.idx.to(x.device), z.to(x.dtype))

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.world.render(self.scene(z, x)).image

    def truth_mode(self, kind: str) -> str | None:
        """``"moved"`` for the kinds the world re-derives exactly (:attr:`World.truth_kinds`), else None."""
        return "moved" if kind in self.world.truth_kinds else None

    def decode_with_truth(
        self, z: torch.Tensor, x: torch.Tensor, truth: torch.Tensor, kind: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Render the changed scene once with its labels and take the ground truth from it (seed 003 §4:
        the adversarial scene's own boxes, not the benign scene's)."""
        if self.truth_mode(kind) is None:
            return super().decode_with_truth(z, x, truth, kind)
        after = self.scene(z, x)
        r = self.world.render(after, with_labels=True)
        return r.image, self.world.move_truth(x, self.world.validate(after), check_truth(truth, kind, len(x)), kind, r)

    def bounds(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo = self.world.lo[self.idx].to(z0)
        hi = self.world.hi[self.idx].to(z0)
        return lo.expand_as(z0), hi.expand_as(z0)

    def extra_project(self, z: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
        lo, hi = self.bounds(z0)
        return torch.maximum(torch.minimum(z, hi), lo)

    # ----- seed 003's composition operator ⊕ ---------------------------------------------------------
    @staticmethod
    def compose(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
        """θ1 ⊕ θ2 for parameter *changes* (B, n): their sum. τ(x, θ1 ⊕ θ2) = τ(τ(x, θ1), θ2) holds
        whenever no intermediate scene is clamped to the world's ranges (seed 003 §3.2's axiom)."""
        if d1.shape != d2.shape:
            raise InputError(f"cannot compose changes of shapes {tuple(d1.shape)} and {tuple(d2.shape)}")
        return d1 + d2

    def apply(self, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """τ's scene part: the scene ``x`` with the searched parameters changed by ``delta`` (clamped)."""
        return self.world.validate(self.scene(self.encode(x) + delta, x))

    def __repr__(self) -> str:
        budgets = dict(zip(self.names, self.budgets.tolist(), strict=True))
        return f"RenderSpace({self.world.name}, {budgets}, metric={self.metric!r})"
