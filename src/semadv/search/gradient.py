"""Gradient searches: PGD (and FGSM as its one-step case) and Adam with penalties.

* PGD — Madry et al. 2018 (projected steepest descent, Eq. 2.1 there); in a Space the step is the
  steepest direction of the space's own metric: the sign for L∞ / boxes, the normalised gradient for L2,
  and the normalised gradient in whitened coordinates for ellipsoids, M⁻¹g/√(gᵀM⁻¹g) (seed 002 §3.3
  PGD with the ellipsoid projection). FGSM (Goodfellow et al. 2015) is one step of size ε.
* Adam-penalty — Carlini & Wagner 2017 Eq. (6) style: minimise goal loss + λ·distance² (+ TV smoothness,
  SemanticAdv Eq. (6)) with Adam, projecting onto the space's feasible set after every step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from semadv.checks import MAX_STEPS, check_int, check_positive
from semadv.errors import InputError
from semadv.registry import register
from semadv.search.base import Best, Search
from semadv.types import Problem


def _start(
    problem: Problem, first: torch.Tensor, random_start: bool, generator: torch.Generator | None
) -> torch.Tensor:
    z0 = problem.z0
    if not random_start and bool(first.all()):
        return z0.clone()
    rand = problem.space.sample(z0, generator)
    if random_start:
        return rand
    return torch.where(first.reshape((-1,) + (1,) * (z0.dim() - 1)), z0, rand)


def total_variation(z: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """Total variation of each sample over its last two dims, (B,).

    ``squared=False``: anisotropic L1, Σ|z_{h+1,w} − z_{h,w}| + Σ|z_{h,w+1} − z_{h,w}|. ``squared=True``:
    SemanticAdv Eq. 6, Σ_{h,w} ‖α_{h+1,w} − α_{h,w}‖²₂ + ‖α_{h,w+1} − α_{h,w}‖²₂ with the norm over the
    remaining (channel) dims."""
    if z.dim() < 3:
        return torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    dh = z[..., 1:, :] - z[..., :-1, :]
    dw = z[..., :, 1:] - z[..., :, :-1]
    f = (lambda d: d.pow(2)) if squared else (lambda d: d.abs())
    return f(dh).reshape(z.shape[0], -1).sum(1) + f(dw).reshape(z.shape[0], -1).sum(1)


def input_diversity(
    images: torch.Tensor, prob: float, scale: float = 1.1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """DI²-FGSM's random transform (Xie et al. 2019, §3.1): with probability ``prob`` per sample, resize to a
    random size in [H, scale·H), zero-pad at a random offset to ⌈scale·H⌉, and resize back to (H, W) so any
    victim accepts it. Differentiable in ``images``."""
    B, _, H, W = images.shape
    big_h, big_w = math.ceil(scale * H), math.ceil(scale * W)
    r = float(torch.rand((), generator=generator))
    h, w = H + int(r * (big_h - H)), W + int(r * (big_w - W))
    top = int(torch.randint(0, big_h - h + 1, (), generator=generator))
    left = int(torch.randint(0, big_w - w + 1, (), generator=generator))
    small = F.interpolate(images, size=(h, w), mode="nearest")
    padded = F.pad(small, (left, big_w - w - left, top, big_h - h - top))
    out = F.interpolate(padded, size=(H, W), mode="bilinear", align_corners=False)
    use = torch.rand(B, generator=generator) < prob
    return torch.where(use.to(images.device)[:, None, None, None], out, images)


class _Diverse:
    """A victim seen through :func:`input_diversity` (used only for gradient steps, never to verify)."""

    def __init__(self, victim: Callable[[torch.Tensor], torch.Tensor], prob: float, generator: torch.Generator | None):
        self.victim, self.prob, self.generator = victim, prob, generator

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.victim(input_diversity(images, self.prob, generator=self.generator))


@register("search", "pgd")
class PGD(Search):
    """Projected gradient descent on the goal loss in any differentiable space.

    Args:
        steps: iterations.
        alpha: step size in the space's metric units (default 2.5·radius/steps, Madry et al.); a
            ``None`` radius-free space uses 1/steps of its unit box.
        restarts: random restarts, run in parallel as a batch axis; the first starts at z0 unless
            ``random_start``.
        random_start: start every restart uniformly inside the feasible set.
        early_stop: stop updating a sample as soon as its goal is reached.
        momentum: μ of MI-FGSM (Dong et al. 2018, Eq. 6): steps follow g ← μ·g + ∇/‖∇‖₁ (0: plain PGD).
        diversity: probability of DI²-FGSM's random resize-and-pad before the victim in gradient steps
            (Xie et al. 2019); the final evaluation always sees the undistorted image.
    """

    def __init__(
        self,
        steps: int = 10,
        alpha: float | None = None,
        restarts: int = 1,
        random_start: bool = False,
        early_stop: bool = True,
        momentum: float = 0.0,
        diversity: float = 0.0,
    ) -> None:
        super().__init__(restarts)
        self.steps = check_int(steps, "steps", maximum=MAX_STEPS)
        self.alpha = None if alpha is None else check_positive(alpha, "alpha")
        self.random_start = bool(random_start)
        self.early_stop = bool(early_stop)
        if not (math.isfinite(momentum) and momentum >= 0):
            raise InputError(f"momentum must be a finite number >= 0; got {momentum!r}")
        if not 0.0 <= diversity <= 1.0:
            raise InputError(f"diversity must be a probability in [0, 1]; got {diversity!r}")
        self.momentum, self.diversity = float(momentum), float(diversity)

    def step_size(self, problem: Problem) -> float:
        if self.alpha is not None:
            return self.alpha
        return 2.5 * problem.space.radius / self.steps

    def run(
        self, problem: Problem, first: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[Best, torch.Tensor]:
        space, z0 = problem.space, problem.z0
        alpha = self.step_size(problem)
        z = _start(problem, first, self.random_start, generator)
        n = problem.batch
        steps = torch.zeros(n, dtype=torch.int64, device=z.device)
        rows = torch.arange(n, device=z.device)  # rows still being optimised
        best = Best(
            z,
            torch.zeros(n, dtype=torch.bool, device=z.device),
            torch.full((n,), float("inf"), dtype=z.dtype, device=z.device),
        )
        reuse = problem.start is not None and problem.start.grad is not None and not self.random_start
        reuse = reuse and bool(first.all())  # every row starts at z0: the attack's evaluation there is ours
        reuse = reuse and self.diversity == 0
        grad_problem = problem
        if self.diversity > 0:
            grad_problem = dataclasses.replace(problem, victim=_Diverse(problem.victim, self.diversity, generator))
        g_acc = torch.zeros_like(z) if self.momentum > 0 else None
        for t in range(self.steps + 1):
            full = rows.numel() == n
            zr = z if full else z[rows]
            last = t == self.steps
            if t == 0 and reuse and problem.start is not None:
                ev = problem.start
            elif last:
                ev = (problem if full else problem.subset(rows)).evaluate(zr)
            else:
                ev = (grad_problem if full else grad_problem.subset(rows)).evaluate_with_grad(zr)
                if self.diversity > 0:  # success is judged on the undistorted image
                    ev = dataclasses.replace(
                        ev, reached=(problem if full else problem.subset(rows)).evaluate(zr).reached
                    )
            best.update(zr, ev.reached, ev.loss, rows)
            if last:
                break
            if ev.grad is None:  # pragma: no cover - evaluate_with_grad always returns one
                raise RuntimeError("gradient evaluation returned no gradient")
            keep = ~ev.reached if self.early_stop else torch.ones_like(ev.reached)
            if not bool(keep.all()):
                rows, zr, grad = rows[keep], zr[keep], ev.grad[keep]
                sub_z0 = z0[rows]
            else:
                grad, sub_z0 = ev.grad, (z0 if rows.numel() == n else z0[rows])
            if rows.numel() == 0:
                break
            if g_acc is not None:
                l1 = grad.abs().reshape(grad.shape[0], -1).sum(1).clamp_min(1e-12)
                g_acc[rows] = self.momentum * g_acc[rows] + grad / l1.reshape((-1,) + (1,) * (grad.dim() - 1))
                grad = g_acc[rows]
            znew = space.project((zr - alpha * space.steepest(grad)).detach(), sub_z0)
            if rows.numel() == n:
                z = znew
            else:
                z = z.clone()
                z[rows] = znew
            steps[rows] += 1
        return best, steps


@register("search", "fgsm")
class FGSM(PGD):
    """Fast gradient sign method (Goodfellow et al. 2015): one steepest step of the full budget."""

    def __init__(self, alpha: float | None = None) -> None:
        super().__init__(steps=1, alpha=alpha, restarts=1, random_start=False, early_stop=True)

    def step_size(self, problem: Problem) -> float:
        return self.alpha if self.alpha is not None else problem.space.radius


@register("search", "mifgsm")
class MIFGSM(PGD):
    """MI-FGSM (Dong et al. 2018): ``steps`` momentum sign steps of ε/steps (μ = 1); with ``diversity`` > 0
    it is M-DI²-FGSM (Xie et al. 2019), the transfer baselines of seed 000 Table 2."""

    def __init__(self, steps: int = 10, momentum: float = 1.0, diversity: float = 0.0) -> None:
        super().__init__(steps=steps, restarts=1, early_stop=False, momentum=momentum, diversity=diversity)

    def step_size(self, problem: Problem) -> float:
        return problem.space.radius / self.steps


@register("search", "adam")
class AdamPenalty(Search):
    """Adam on ``loss + λ·distance² + τ·TV(z − z0)`` with projection onto the feasible set.

    The Carlini–Wagner (2017, Eq. 6) and SemanticAdv (seed 000, Eq. 6, TV weight 0.01) optimisation
    pattern. Best iterate: reached samples with the smallest distance, else the smallest loss.

    Args:
        steps: Adam iterations. lr: Adam learning rate. penalty: λ on the squared distance.
        tv: τ on the total variation of the perturbation (over its last two dims, if any).
        tv_squared: use SemanticAdv's squared-L2 total variation (Eq. 6) instead of the L1 one.
        early_stop: stop a sample once reached (otherwise keep shrinking its distance); stopped samples are
            no longer evaluated.
    """

    needs_budget = False

    def __init__(
        self,
        steps: int = 100,
        lr: float = 0.01,
        penalty: float = 0.0,
        tv: float = 0.0,
        restarts: int = 1,
        early_stop: bool = False,
        tv_squared: bool = False,
    ) -> None:
        super().__init__(restarts)
        self.tv_squared = bool(tv_squared)
        self.steps = check_int(steps, "steps", maximum=MAX_STEPS)
        self.lr = check_positive(lr, "lr")
        if penalty < 0 or tv < 0:
            raise InputError(f"penalty and tv must be >= 0; got penalty={penalty!r}, tv={tv!r}")
        self.penalty, self.tv = float(penalty), float(tv)
        self.early_stop = bool(early_stop)

    def run(
        self, problem: Problem, first: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[Best, torch.Tensor]:
        space, z0 = problem.space, problem.z0
        z = _start(problem, first, False, generator).detach().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        n = problem.batch
        steps = torch.zeros(n, dtype=torch.int64, device=z0.device)
        active = torch.ones(n, dtype=torch.bool, device=z0.device)
        best = Best(
            z,
            torch.zeros(n, dtype=torch.bool, device=z0.device),
            torch.full((n,), float("inf"), dtype=z0.dtype, device=z0.device),
        )
        for t in range(self.steps + 1):
            opt.zero_grad(set_to_none=True)
            rows = active.nonzero().squeeze(1)
            full = rows.numel() == n
            with torch.enable_grad():
                zr = z if full else z[rows]
                sub = problem if full else problem.subset(rows)
                out, target = sub.observe(zr)
                loss = problem.goal.loss(out, target)
                dist = space.distance(zr, sub.z0)
                obj = loss + self.penalty * dist**2 + self.tv * total_variation(zr - sub.z0, self.tv_squared)
            with torch.no_grad():
                reached = problem.goal.reached(out.detach(), None if target is None else target.detach())
                value = torch.where(reached, dist.detach(), loss.detach())
                best.update(zr.detach(), reached, value, rows)
                if self.early_stop:
                    active[rows] &= ~reached
            if t == self.steps or not bool(active.any()):
                break
            obj.sum().backward()
            z_prev = z.detach().clone()
            opt.step()
            with torch.no_grad():
                mask = active.reshape((-1,) + (1,) * (z.dim() - 1))
                z.copy_(torch.where(mask, space.project(z, z0), z_prev))
            steps += active.long()
        return best, steps
