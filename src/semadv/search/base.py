"""Search base: restarts as a batch axis, best-iterate tracking, per-sample early stopping.

Every concrete search writes *one* loop against the :class:`~semadv.spaces.base.Space` interface in
:meth:`Search.run`; this base class stacks restarts along the batch axis (``Problem.repeat``) and keeps,
for every original sample, the best restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from semadv.checks import check_int
from semadv.types import Problem


@dataclass(frozen=True)
class SearchOutput:
    """What a search returns: one candidate ``z`` per sample and the iterations spent on it."""

    z: torch.Tensor
    steps: torch.Tensor  # (B,) int64


class Best:
    """Best iterate per row, lexicographic on (goal reached ↓, value ↑).

    ``value`` is the goal loss for budget-constrained searches and the distance for minimum-norm ones.
    """

    def __init__(self, z: torch.Tensor, reached: torch.Tensor, value: torch.Tensor) -> None:
        self.z = z.detach().clone()
        self.reached = reached.clone()
        self.value = value.detach().clone()

    def update(
        self, z: torch.Tensor, reached: torch.Tensor, value: torch.Tensor, rows: torch.Tensor | None = None
    ) -> None:
        if rows is None:
            rows = torch.arange(z.shape[0], device=z.device)
        br, bv = self.reached[rows], self.value[rows]
        better = (reached & ~br) | ((reached == br) & (value < bv))
        if bool(better.any()):
            sel = rows[better]
            self.z[sel] = z[better].detach()
            self.reached[sel] = reached[better]
            self.value[sel] = value[better].detach()


def pick_restarts(best: Best, n: int, restarts: int) -> torch.Tensor:
    """Index (n,) of the winning row among ``restarts`` stacked copies of ``n`` samples."""
    reached = best.reached.reshape(restarts, n)
    value = best.value.reshape(restarts, n)
    any_reached = reached.any(dim=0)
    key = torch.where(reached | ~any_reached[None], value, torch.full_like(value, float("inf")))
    # NaN-free argmin; ties resolve to the first restart
    r = torch.nan_to_num(key, nan=float("inf")).argmin(dim=0)
    return r * n + torch.arange(n, device=r.device)


class Search(ABC):
    """Base class of searches. Subclasses implement :meth:`run` on a problem with restarts stacked."""

    #: does the search differentiate through decode∘victim∘goal?
    needs_gradient: bool = True
    #: does it need the goal's ``margins`` (boundary-following searches like FAB)?
    needs_margins: bool = False
    #: does it need a budget (a bounded space)? Budget-constrained searches (FGSM, PGD, random, grid) do;
    #: minimum-norm and penalty searches (FAB, Adam, Type I) run in ``space.unbounded()`` as well
    needs_budget: bool = True

    def __init__(self, restarts: int = 1) -> None:
        self.restarts = check_int(restarts, "restarts")

    def __call__(self, problem: Problem, generator: torch.Generator | None = None) -> SearchOutput:
        n = problem.batch
        stacked = problem.repeat(self.restarts)
        first = torch.zeros(stacked.batch, dtype=torch.bool, device=problem.x.device)
        first[:n] = True
        best, steps = self.run(stacked, first, generator)
        win = pick_restarts(best, n, self.restarts)
        total_steps = steps.reshape(self.restarts, n).sum(dim=0)
        return SearchOutput(best.z[win], total_steps)

    @abstractmethod
    def run(
        self, problem: Problem, first: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[Best, torch.Tensor]:
        """Search every row; ``first`` marks the rows of the first restart (which start at z0 unless
        the search starts randomly). Return the best iterates and the (rows,) steps taken."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"
