"""Black-box searches on a space's unit-cube view (3DB-style policies): random and grid search."""

from __future__ import annotations

import itertools
import math

import torch

from semadv.checks import check_int
from semadv.errors import InputError
from semadv.registry import register
from semadv.search.base import Best, Search
from semadv.types import Problem


class _CubeSearch(Search):
    """Evaluate one cube point per sample per iteration; keep the best (reached, then smaller distance
    if ``minimize_distance`` else smaller loss); stop a sample early once reached if ``early_stop``."""

    needs_gradient = False

    def __init__(self, restarts: int = 1, early_stop: bool = True, minimize_distance: bool = False) -> None:
        super().__init__(restarts)
        self.early_stop = bool(early_stop)
        self.minimize_distance = bool(minimize_distance)

    def points(self, problem: Problem, generator: torch.Generator | None) -> list[torch.Tensor]:
        raise NotImplementedError

    def _value(self, problem: Problem, z: torch.Tensor, loss: torch.Tensor, reached: torch.Tensor) -> torch.Tensor:
        if self.minimize_distance:
            return torch.where(reached, problem.space.distance(z, problem.z0), loss)
        return loss

    def run(
        self, problem: Problem, first: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[Best, torch.Tensor]:
        z0 = problem.z0
        n = problem.batch
        ev = problem.evaluate(z0)
        best = Best(z0, ev.reached, self._value(problem, z0, ev.loss, ev.reached))
        steps = torch.zeros(n, dtype=torch.int64, device=z0.device)
        active = ~ev.reached if self.early_stop else torch.ones_like(ev.reached)
        for u in self.points(problem, generator):
            rows = active.nonzero()[:, 0]
            if rows.numel() == 0:
                break
            sub = problem.subset(rows)
            z = problem.space.from_cube(u.to(z0)[rows], sub.z0)
            ev = sub.evaluate(z)
            best.update(z, ev.reached, self._value(sub, z, ev.loss, ev.reached), rows)
            steps[rows] += 1
            if self.early_stop:
                active[rows[ev.reached]] = False
        return best, steps


@register("search", "random")
class RandomSearch(_CubeSearch):
    """Uniform random search: ``samples`` points of the unit cube per sample."""

    def __init__(
        self, samples: int = 100, restarts: int = 1, early_stop: bool = True, minimize_distance: bool = False
    ) -> None:
        super().__init__(restarts, early_stop, minimize_distance)
        self.samples = check_int(samples, "samples")

    def points(self, problem: Problem, generator: torch.Generator | None) -> list[torch.Tensor]:
        D = problem.space.cube_dim(problem.z0)
        u = torch.rand((self.samples, problem.batch, D), generator=generator, dtype=problem.z0.dtype)
        return list(u)


@register("search", "grid")
class GridSearch(_CubeSearch):
    """Exhaustive grid with ``points`` values per dimension (including both ends) of the unit cube."""

    def __init__(
        self,
        points: int = 5,
        max_evaluations: int = 100_000,
        early_stop: bool = True,
        minimize_distance: bool = False,
    ) -> None:
        super().__init__(1, early_stop, minimize_distance)
        self.points_per_dim = check_int(points, "points", minimum=2)
        self.max_evaluations = check_int(max_evaluations, "max_evaluations")

    def points(self, problem: Problem, generator: torch.Generator | None) -> list[torch.Tensor]:
        D = problem.space.cube_dim(problem.z0)
        total = self.points_per_dim**D if D < 64 else math.inf
        if total > self.max_evaluations:
            raise InputError(
                f"grid of {self.points_per_dim}^{D} = {total} points exceeds "
                f"max_evaluations={self.max_evaluations}; use random search or fewer points"
            )
        axis = torch.linspace(0, 1, self.points_per_dim, dtype=problem.z0.dtype)
        return [torch.stack(pt).expand(problem.batch, D) for pt in itertools.product(axis, repeat=D)]
