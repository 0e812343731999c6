"""FAB: Fast Adaptive Boundary attack, minimum norm in the space's own metric.

Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive boundary attack", ICML 2020
(Alg. 1; Eq. 5–9 there), as used by seed 002 §3.4 (Problem 3: min ‖η‖_M s.t. the identity changes).

The search runs in *whitened* coordinates ``u`` of the space (``z = z0 + unwhiten(u)``), where the
space's distance is the plain ‖u‖_p (p = 2 or ∞); for an ellipsoid ‖η‖_M this is u = M^{1/2}η, so FAB-L2
in ``u`` is FAB in the M-metric. At each step the goal's ``margins`` (one column per boundary; the goal
is reached when a margin is positive) are linearised at the current iterate, the closest boundary
hyperplane is chosen, the current iterate and the origin are projected onto it (under the space's box
bounds, solved exactly by bisection on the KKT multiplier), and the biased combination of Eq. (9) with
extrapolation η and the backward step β after success are taken. Untargeted and targeted behaviour is the
goal's: a targeted goal exposes a single margin.
"""

from __future__ import annotations

import math

import torch

from semadv.checks import MAX_STEPS, check_int, check_positive
from semadv.errors import IncompatibleError, InputError
from semadv.registry import register
from semadv.search.base import Best, Search
from semadv.types import Problem

_TINY = 1e-12


def _pnorm(u: torch.Tensor, p: float) -> torch.Tensor:
    return u.abs().amax(dim=1) if p == math.inf else u.norm(dim=1)


def hyperplane_step(
    w: torch.Tensor,
    c: torch.Tensor,
    lo: torch.Tensor | None,
    hi: torch.Tensor | None,
    p: float,
    iters: int = 50,
) -> torch.Tensor:
    """Minimum-‖δ‖_p solution of ⟨w, δ⟩ = c subject to lo ≤ δ ≤ hi (rows of (B, D); lo ≤ 0 ≤ hi).

    Unbounded: closed form (δ = c·w/‖w‖² for p = 2; δ = c·sign(w)/‖w‖₁ for p = ∞). Bounded: the KKT
    conditions give δ(t) = clip(t·d, lo, hi) with d = sign(c)·w (p = 2) or sign(c)·sign(w) (p = ∞), and
    t ≥ 0 the root of the non-decreasing ⟨w, δ(t)⟩ = c, found by vectorised bisection. When the box
    cannot reach c the fully saturated δ is returned (closest feasible point to the plane).
    """

    s = torch.sign(c)
    d = s[:, None] * w if p == 2 else s[:, None] * torch.sign(w)
    if lo is None or hi is None:
        if p == 2:
            return c[:, None] * w / (w * w).sum(dim=1, keepdim=True).clamp_min(_TINY)
        return (c / w.abs().sum(dim=1).clamp_min(_TINY))[:, None] * torch.sign(w)
    ratio = torch.where(
        d > 0, hi / d.clamp_min(_TINY), torch.where(d < 0, lo / d.clamp_max(-_TINY), torch.zeros_like(d))
    )
    t_lo = torch.zeros_like(c)
    t_hi = ratio.amax(dim=1)
    target = c.abs()
    for _ in range(iters):
        mid = 0.5 * (t_lo + t_hi)
        g = s * (w * torch.maximum(torch.minimum(mid[:, None] * d, hi), lo)).sum(dim=1)
        short = g < target
        t_lo = torch.where(short, mid, t_lo)
        t_hi = torch.where(short, t_hi, mid)
    return torch.maximum(torch.minimum(t_hi[:, None] * d, hi), lo)


@register("search", "fab")
class FAB(Search):
    """Minimum-norm boundary search (Croce & Hein 2020) in the space's own metric.

    Args:
        steps: iterations per restart (seed 002 uses 10).
        restarts: parallel restarts (batch axis); restarts after the first start at a random point of
            norm ``start_radius/2`` (default: half the space's radius).
        alpha_max: maximum bias towards the origin (Eq. 9), 0.1.
        eta: extrapolation factor of the projections, 1.05.
        beta: backward step towards the origin after a success, 0.9.
    """

    needs_margins = True

    needs_budget = False

    def __init__(
        self,
        steps: int = 10,
        restarts: int = 1,
        alpha_max: float = 0.1,
        eta: float = 1.05,
        beta: float = 0.9,
        start_radius: float | None = None,
    ) -> None:
        super().__init__(restarts)
        self.steps = check_int(steps, "steps", maximum=MAX_STEPS)
        if not 0 <= alpha_max <= 1 or not 0 < beta <= 1 or eta < 1:
            raise InputError(
                f"need 0 <= alpha_max <= 1, 0 < beta <= 1, eta >= 1; got alpha_max={alpha_max!r}, "
                f"beta={beta!r}, eta={eta!r}"
            )
        self.alpha_max, self.eta, self.beta = float(alpha_max), float(eta), float(beta)
        self.start_radius = None if start_radius is None else check_positive(start_radius, "start_radius")

    def run(
        self, problem: Problem, first: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[Best, torch.Tensor]:
        space, z0 = problem.space, problem.z0
        n = problem.batch
        p = space.p
        b = space.bounds(z0)
        lo = hi = None
        if b is not None:
            if not space.elementwise_metric:
                raise IncompatibleError(f"FAB needs an elementwise metric when {space!r} has box bounds")
            lo, hi = space.whiten(b[0] - z0), space.whiten(b[1] - z0)

        def to_z(u: torch.Tensor) -> torch.Tensor:
            return z0 + space.unwhiten(u, z0)

        D = space.cube_dim(z0)
        u = torch.zeros(n, D, dtype=z0.dtype, device=z0.device)
        if not bool(first.all()):
            r = (self.start_radius or space.radius) / 2
            if p == math.inf:
                t = 2 * torch.rand((n, D), generator=generator, dtype=z0.dtype).to(z0.device) - 1
            else:
                t = torch.randn((n, D), generator=generator, dtype=z0.dtype).to(z0.device)
            t = r * t / _pnorm(t, p).clamp_min(_TINY)[:, None]
            if lo is not None and hi is not None:
                t = torch.maximum(torch.minimum(t, hi), lo)
            u = torch.where(first[:, None], u, t)

        inf = torch.full((n,), float("inf"), dtype=z0.dtype, device=z0.device)
        best = Best(z0, torch.zeros(n, dtype=torch.bool, device=z0.device), inf)
        rows = torch.arange(n, device=z0.device)
        for it in range(self.steps):
            f, J = self._margins_and_jacobian(problem, to_z, u)
            if it == 0:  # the starting point may already satisfy the goal
                reached0 = f.amax(dim=1) > 0
                best.update(to_z(u), reached0, torch.where(reached0, _pnorm(u, p), inf), rows)
            qn = J.norm(dim=2) if p == 2 else J.abs().sum(dim=2)
            dist = f.abs() / (qn + _TINY)
            dist = torch.where(torch.isfinite(f), dist, torch.full_like(dist, float("inf")))
            k = dist.argmin(dim=1)
            w = J[rows, k]
            fk = f[rows, k]
            d1 = hyperplane_step(w, -fk, None if lo is None else lo - u, None if hi is None else hi - u, p)
            d2 = hyperplane_step(w, (w * u).sum(dim=1) - fk, lo, hi, p)
            a1 = _pnorm(d1, p).clamp_min(1e-8)
            a2 = _pnorm(d2, p).clamp_min(1e-8)
            alpha = (a1 / (a1 + a2)).clamp(0.0, self.alpha_max)[:, None]
            u = (1 - alpha) * (u + self.eta * d1) + alpha * (self.eta * d2)
            if lo is not None and hi is not None:
                u = torch.maximum(torch.minimum(u, hi), lo)
            zc = space.extra_project(to_z(u), z0)
            ev = problem.evaluate(zc)
            best.update(zc, ev.reached, torch.where(ev.reached, _pnorm(u, p), inf), rows)
            u = torch.where(ev.reached[:, None], self.beta * u, u)
        steps = torch.full((n,), self.steps, dtype=torch.int64, device=z0.device)
        return best, steps

    @staticmethod
    def _margins_and_jacobian(problem: Problem, to_z: object, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Goal margins (n, K) and their gradients w.r.t. whitened coordinates (n, K, D)."""
        with torch.enable_grad():
            uu = u.detach().requires_grad_(True)
            out, target = problem.observe(to_z(uu))  # type: ignore[operator]
            m = problem.goal.margins(out, target)  # type: ignore[attr-defined]
            K = m.shape[1]
            grads = []
            for k in range(K):
                col = m[:, k]
                fin = torch.isfinite(col)
                (g,) = torch.autograd.grad(
                    torch.where(fin, col, torch.zeros_like(col)).sum(), uu, retain_graph=k < K - 1
                )
                grads.append(g)
        return m.detach(), torch.stack(grads, dim=1)
