"""The six concepts (DESIGN §2): Victim, Goal, Space, Search, Attack (see :mod:`semadv.attack`) and
AttackResult, plus the :class:`Problem` a search is handed.

* **Victim** — any callable ``nn.Module`` mapping images ``(B, C, H, W)`` in ``[0, 1]`` to outputs.
* **Goal** — per-sample ``loss`` (lower is closer to the goal) and ``reached`` test; stateless.
* **Space** — parameters ``z`` ↦ image (threat model), see :class:`semadv.spaces.base.Space`.
* **Search** — finds ``z`` for a :class:`Problem`, see :class:`semadv.search.base.Search`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

from semadv.checks import check_finite

if TYPE_CHECKING:
    from semadv.spaces.base import Space

__all__ = ["AttackResult", "Evaluation", "Goal", "Problem", "Victim"]


@runtime_checkable
class Victim(Protocol):
    """A model under attack: images ``(B, C, H, W)`` in ``[0, 1]`` → outputs with leading dim ``B``."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Goal(Protocol):
    """A per-sample objective and success test for one task. Targets are passed at call time."""

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """(B,) differentiable loss; searches *minimise* it."""
        ...

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """(B,) bool: does each output satisfy the goal?"""
        ...

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor | None:
        """Validate (and possibly normalise) ``target`` for clean ``outputs``; raise InputError if bad."""
        ...


@dataclass(frozen=True)
class Evaluation:
    """What one query of decode∘victim∘goal returns for a batch."""

    loss: torch.Tensor  # (B,)
    reached: torch.Tensor  # (B,) bool
    outputs: torch.Tensor  # (B, ...)
    grad: torch.Tensor | None = None  # d loss / d z, shape of z


@dataclass(frozen=True)
class Problem:
    """An explicit optimisation problem handed to a search (DESIGN §2).

    Rows are samples; ``index`` maps every row to the original sample, so restarts (``repeat``) and
    early-stopped subsets (``subset``) still count queries per original sample in ``queries``.
    """

    victim: Callable[[torch.Tensor], torch.Tensor]
    goal: Goal
    space: Space
    x: torch.Tensor
    z0: torch.Tensor
    target: torch.Tensor | None
    index: torch.Tensor
    queries: torch.Tensor  # (B_original,) int64, shared and updated in place
    #: the attack's own evaluation at z0 (with gradient), reusable by searches that start at z0
    start: Evaluation | None = None

    @classmethod
    def create(
        cls,
        victim: Callable[[torch.Tensor], torch.Tensor],
        goal: Goal,
        space: Space,
        x: torch.Tensor,
        z0: torch.Tensor,
        target: torch.Tensor | None,
        start: Evaluation | None = None,
    ) -> Problem:
        """A fresh problem with a zeroed per-sample query counter."""
        n = x.shape[0]
        index = torch.arange(n, device=x.device)
        queries = torch.zeros(n, dtype=torch.int64, device=x.device)
        return cls(victim, goal, space, x, z0, target, index, queries, start)

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    def _take(self, idx: torch.Tensor) -> dict[str, Any]:
        return {
            "x": self.x[idx],
            "z0": self.z0[idx],
            "target": None if self.target is None else self.target[idx],
            "index": self.index[idx],
            "start": None
            if self.start is None
            else Evaluation(
                self.start.loss[idx],
                self.start.reached[idx],
                self.start.outputs[idx],
                None if self.start.grad is None else self.start.grad[idx],
            ),
        }

    def subset(self, idx: torch.Tensor) -> Problem:
        """The problem restricted to rows ``idx`` (shares the query counter)."""
        return dataclasses.replace(self, **self._take(idx))

    def repeat(self, r: int) -> Problem:
        """Stack ``r`` copies along the batch axis (restarts as a batch axis, DESIGN §5 principle 2)."""
        if r == 1:
            return self
        idx = torch.arange(self.batch, device=self.x.device).repeat(r)
        return self.subset(idx)

    def _count(self) -> None:
        self.queries.index_add_(0, self.index, torch.ones_like(self.index))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Victim outputs on ``decode(z, x)`` (counts one query per row)."""
        self._count()
        out = self.victim(self.space.decode(z, self.x))
        return check_finite(out, "victim outputs")

    def evaluate(self, z: torch.Tensor) -> Evaluation:
        """Loss and success without gradients."""
        with torch.no_grad():
            out = self.forward(z)
            return Evaluation(self.goal.loss(out, self.target), self.goal.reached(out, self.target), out)

    def evaluate_with_grad(self, z: torch.Tensor) -> Evaluation:
        """Loss, success and ∂loss/∂z (one forward and one backward pass)."""
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            out = self.forward(zz)
            loss = self.goal.loss(out, self.target)
            if loss.requires_grad:
                (grad,) = torch.autograd.grad(loss.sum(), zz)
            else:  # the graph is cut (argmax, thresholding, no_grad victim): the gradient is zero
                grad = torch.zeros_like(zz)
        with torch.no_grad():
            reached = self.goal.reached(out.detach(), self.target)
        return Evaluation(loss.detach(), reached, out.detach(), grad)


@dataclass(frozen=True)
class AttackResult:
    """The one result type of every attack: per-sample tensors of shape ``(B,)`` plus the adversarials.

    ``success`` is decided by the attack re-running the victim on ``x_adv`` — never by the search.
    ``distance`` is measured in the space's own metric; ``warnings`` are AutoAttack-style sanity flags.
    """

    success: torch.Tensor
    distance: torch.Tensor
    loss: torch.Tensor
    queries: torch.Tensor
    steps: torch.Tensor
    z_adv: torch.Tensor
    x_adv: torch.Tensor
    z0: torch.Tensor
    clean_reached: torch.Tensor
    wall_time: float
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def batch(self) -> int:
        return int(self.success.shape[0])

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean())

    def summary(self) -> dict[str, float]:
        """Aggregate numbers for a table row."""
        s = self.success
        return {
            "n": float(self.batch),
            "success_rate": self.success_rate,
            "median_distance": float(self.distance[s].median()) if bool(s.any()) else float("nan"),
            "mean_queries": float(self.queries.float().mean()),
            "wall_time_s": self.wall_time,
        }

    def with_warnings(self, *extra: str) -> AttackResult:
        return dataclasses.replace(self, warnings=self.warnings + tuple(extra))
