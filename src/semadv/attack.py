"""Attack: the frozen composition goal + space + search (DESIGN §2; Foolbox-style re-verification).

``Attack(goal, space, search)(victim, x, target)`` validates inputs, runs the search on an explicit
:class:`~semadv.types.Problem`, re-projects the result, decodes it and decides success by running the
victim again on the final image — it never trusts what the search claims.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from semadv import sanity
from semadv.checks import check_finite, check_images
from semadv.errors import IncompatibleError, InputError
from semadv.search.base import Search
from semadv.spaces.base import Space
from semadv.truth import decode_moving
from semadv.types import AttackResult, Evaluation, Goal, Problem
from semadv.victims import match_dtype

log = logging.getLogger(__name__)


def _first_forward(victim: Callable[[torch.Tensor], torch.Tensor], img: torch.Tensor) -> torch.Tensor:
    """The victim's first call on this batch; a victim that cannot take these images at all (wrong channels,
    size or dtype for its layers) is the caller's input error, named with the shape, not a torch traceback."""
    try:
        out = victim(img)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        msg = " ".join(str(err).split())
        raise InputError(
            f"the victim cannot take images of shape {tuple(img.shape)} ({img.dtype}): {type(err).__name__}: {msg}"
        ) from err
    if not isinstance(out, torch.Tensor):
        raise InputError(f"the victim must return a tensor; got {type(out).__name__}")
    return out


@dataclass(frozen=True)
class Attack:
    """Compose a goal, a space and a search; refuse incompatible parts at construction.

    Args:
        goal: what to achieve (e.g. :class:`~semadv.goals.Misclassification`).
        space: where to search (threat model).
        search: how to search.
        checks: run the AutoAttack-style sanity checks (one extra forward and one forward+backward).
        cross_check: optional black-box search run on the same problem after a gradient search; if it
            succeeds where the gradient search failed, a warning flags possible gradient obfuscation
            (AutoAttack's "black-box beats white-box" flag). Its successes are not merged into the result.
    """

    goal: Goal
    space: Space
    search: Search
    checks: bool = True
    cross_check: Search | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.space, Space):
            raise IncompatibleError(f"space must be a semadv Space; got {type(self.space).__name__}")
        if not isinstance(self.search, Search):
            raise IncompatibleError(f"search must be a semadv Search; got {type(self.search).__name__}")
        for meth in ("loss", "reached", "check_target"):
            if not callable(getattr(self.goal, meth, None)):
                raise IncompatibleError(f"goal {self.goal!r} lacks a {meth}() method")
        if self.search.needs_gradient and not self.space.differentiable:
            raise IncompatibleError(
                f"{type(self.search).__name__} needs gradients but {type(self.space).__name__} is not "
                "differentiable; use a black-box search (random, grid)"
            )
        if self.search.needs_budget and not self.space.bounded:
            raise IncompatibleError(
                f"{type(self.search).__name__} needs a budget but the space is unbounded "
                "(space.unbounded() suits minimum-norm and penalty searches: FAB, AdamPenalty, TypeOneSearch)"
            )
        if self.cross_check is not None and (self.cross_check.needs_gradient or not self.search.needs_gradient):
            raise IncompatibleError("cross_check must be a black-box search checking a gradient search")
        kind = getattr(self.goal, "truth_kind", None)
        if kind is not None and self.space.truth_mode(kind) is None:
            raise IncompatibleError(
                f"goal {self.goal!r} scores {kind} ground truth, but {self.space!r} cannot say where its images "
                f"put it (it may move scene content); a generator or editor space that keeps {kind} in place "
                "can say so with truth='fixed'"
            )
        if self.search.needs_margins and not callable(getattr(self.goal, "margins", None)):
            raise IncompatibleError(
                f"{type(self.search).__name__} follows decision boundaries but goal {self.goal!r} has no margins()"
            )

    def __call__(
        self,
        victim: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        target: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> AttackResult:
        """Attack a batch. ``target``: true labels (untargeted) or wanted labels (targeted)."""
        t_start = time.perf_counter()
        if not callable(victim):
            raise InputError(f"victim must be callable; got {type(victim).__name__}")
        x = self.space.check_source(x)
        x, cast = match_dtype(victim, x)
        z0 = self.space.encode(x).detach()
        kind = getattr(self.goal, "truth_kind", None)
        # ground truth the space moves: every query and the verification score against the moved target
        moving = kind if kind is not None and target is not None and self.space.truth_mode(kind) == "moved" else None
        # The clean evaluation keeps its gradient when a gradient search or the checks will need it, so
        # that PGD's first step and the zero-gradient check reuse it instead of running the victim again.
        need_grad = self.space.differentiable and (self.search.needs_gradient or self.checks)
        with torch.set_grad_enabled(need_grad):
            zz = z0.clone().requires_grad_(need_grad)
            clean_img = self.space.decode(zz, x)
            check_images(clean_img.detach(), "decoded clean image")
            clean_out = _first_forward(victim, clean_img)
        check_finite(clean_out.detach(), "victim outputs")
        if clean_out.dim() == 0 or clean_out.shape[0] != x.shape[0]:
            raise InputError(
                f"batch size mismatch: victim returned shape {tuple(clean_out.shape)} for {x.shape[0]} inputs"
            )
        target = self.goal.check_target(target, clean_out.detach())
        clean_reached = self.goal.reached(clean_out.detach(), target)
        start = None
        if need_grad:
            moved0 = target
            if moving is not None:  # at z0 the moved truth equals the target; its gradient is the truth's motion
                assert target is not None
                with torch.enable_grad():
                    moved0 = decode_moving(self.space, self.goal, zz, x, target, moving)[1]
            loss0 = self.goal.loss(clean_out, moved0)
            grad0 = torch.autograd.grad(loss0.sum(), zz)[0] if loss0.requires_grad else torch.zeros_like(z0)
            start = Evaluation(loss0.detach(), clean_reached, clean_out.detach(), grad0)
        clean_out = clean_out.detach()
        problem = Problem.create(victim, self.goal, self.space, x, z0, target, start, moving)
        warnings: list[str] = [cast] if cast else []
        if self.checks:
            warnings += sanity.check_determinism(victim, clean_img.detach(), clean_out)
            warnings += sanity.check_probabilities(clean_out)
            if start is not None:
                warnings += sanity.check_zero_gradient(start)

        out = self.search(problem, generator)
        z = out.z.detach()
        if z.shape != z0.shape:
            raise InputError(f"search returned z of shape {tuple(z.shape)}, expected {tuple(z0.shape)}")
        violation = self.space.violation(z, z0)
        warnings += sanity.check_constraint(violation)
        z = torch.where((violation > 1e-4).reshape((-1,) + (1,) * (z.dim() - 1)), self.space.project(z, z0), z)

        with torch.no_grad():
            if moving is None:
                x_adv, target_adv = self.space.decode(z, x), None
            else:
                assert target is not None  # moving is set only with a target
                x_adv, target_adv = decode_moving(self.space, self.goal, z, x, target, moving)
            x_adv = check_images(x_adv, "decoded adversarial image")
            adv_out = check_finite(victim(x_adv), "victim outputs")
            t_adv = target if target_adv is None else target_adv
            success = self.goal.reached(adv_out, t_adv).bool()
            loss = self.goal.loss(adv_out, t_adv)
        distance = self.space.distance(z, z0)
        if self.cross_check is not None:
            bb = self.space.project(self.cross_check(problem, generator).z.detach(), z0)
            bb_success = problem.evaluate(bb).reached.bool()
            warnings += sanity.check_black_box_vs_gradient(success, bb_success)
        for w in warnings:
            log.warning(w)
        return AttackResult(
            success=success.cpu(),
            distance=distance.detach().cpu(),
            loss=loss.detach().cpu(),
            # every victim evaluation of the sample: clean, checks, search, verification
            queries=problem.queries.cpu() + 2 + (1 if self.checks else 0),
            steps=out.steps.cpu(),
            z_adv=z.cpu(),
            x_adv=x_adv.detach().cpu(),
            z0=z0.cpu(),
            clean_reached=clean_reached.cpu(),
            wall_time=time.perf_counter() - t_start,
            warnings=tuple(warnings),
            target_adv=None if target_adv is None else target_adv.detach().cpu(),
        )
