"""Type I searches (seed 001): Adam on J2 + k·J1 + latent terms, with the adaptive weight of Alg. 2 or
the fixed weight and ε-sphere hinge of Eq. 13.

* **Alg. 2** (SVAE latent attack): J_SA = J2 + α(1 − f_dis(z)) + k_t·J1 + γ‖z‖₂ (Eq. 8). The latent terms
  α(1 − f_dis(z)) + γ‖z‖₂ come in as ``latent_terms(z, source)``; k_t follows Eq. 10 (:func:`k_update`) clipped to
  [0, k_max].
* **Eq. 13** (any generator's latent): L(z′) = k·J1(G(z′)) + max(ε − ‖z′ − z‖², 0) (+ J2 of an auxiliary
  classifier when targeted) with k fixed: ``adaptive=False, hinge_eps=ε``.

The goal provides ``parts(outputs, target) → (J1, J2)`` (e.g. :class:`~semadv.goals.typeone.KeepAndChange`);
any other goal is treated as J1 = 0, J2 = its loss (plain Adam on the loss).
Best iterate: reached rows with the smallest J1 (the victim most confidently kept), else the smallest loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from semadv.checks import MAX_STEPS, check_int, check_positive
from semadv.errors import InputError
from semadv.registry import register
from semadv.search.base import Best, Search
from semadv.types import Problem


def k_update(
    k: torch.Tensor,
    j1: torch.Tensor,
    j2: torch.Tensor,
    beta: float | torch.Tensor,
    eta: float,
    j1_hat: float,
    k_max: float,
) -> torch.Tensor:
    """Seed 001 Eq. 10 with Alg. 2's clipping: k ← clip(k + η(β·J1 − J2 + max(J1 − Ĵ1, 0)), 0, k_max)."""
    return (k + eta * (beta * j1 - j2 + torch.clamp(j1 - j1_hat, min=0))).clamp(0.0, k_max)


def latent_hinge(z: torch.Tensor, z0: torch.Tensor, eps: float) -> torch.Tensor:
    """Seed 001 Eq. 13's second term: max(ε − ‖z − z0‖², 0) per row — pushes z′ out to the ε-sphere and is
    zero outside it."""
    d2 = (z - z0).reshape(z.shape[0], -1).pow(2).sum(dim=1)
    return torch.clamp(eps - d2, min=0)


@register("search", "type1")
class TypeOneSearch(Search):
    """Adam on ``J2 + k·J1 + latent_terms(z) + hinge`` (seed 001 Eq. 8 / Alg. 2, or Eq. 13).

    Args:
        steps, lr: Adam iterations and learning rate (§IV: lr 0.005 for Alg. 2, 0.01 for Eq. 13).
        k: initial (Alg. 2: k₀ = 0) or fixed (Eq. 13: 10⁻² digits, 10⁻³ faces) weight of J1.
        adaptive: update k by Eq. 10 after every step.
        beta: β of Eq. 10 (§IV: 0.001); ``None`` takes Eq. 11, β = J2/J1 at the start, per row.
        eta: learning rate of k in Eq. 10.
        j1_hat: the hinge target Ĵ1 (0.01 for cross-entropy, 1.0 for embedding distances).
        k_max: clip of k (Alg. 2: 0.005).
        hinge_eps: ε of Eq. 13's hinge (None: no hinge).
        latent_terms: optional (z, source) → (B,) extra loss (SVAE: α(1 − f_dis(z)) + γ‖z‖₂; in a
            :class:`~semadv.spaces.LatentSpace` the latent is source + z).
        record: keep per-step means of J1, J2, the latent terms and k in ``self.history`` (Fig. 6).
        start_radius: start at z0 + a seeded random offset of this L2 norm. At exactly z0 an *embedding*
            victim's J1 = ‖f1(G(z′)) − f1(G(z))‖₂ and the ε-hinge (gradient −2(z′ − z)) both have zero
            gradient, so a search started there never moves. ``None`` (default): 0.1·√ε with a hinge (inside
            the ε-sphere, where the hinge pushes outward), else 0 (start at z0, Alg. 2).
    """

    needs_budget = False

    def __init__(
        self,
        steps: int = 200,
        lr: float = 0.005,
        k: float = 0.0,
        adaptive: bool = True,
        beta: float | None = 0.001,
        eta: float = 0.001,
        j1_hat: float = 0.01,
        k_max: float = 0.005,
        hinge_eps: float | None = None,
        latent_terms: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        restarts: int = 1,
        record: bool = False,
        start_radius: float | None = None,
    ) -> None:
        super().__init__(restarts)
        self.steps = check_int(steps, "steps", maximum=MAX_STEPS)
        self.lr = check_positive(lr, "lr")
        if k < 0 or k_max < 0 or eta < 0 or j1_hat < 0:
            raise InputError(f"k, k_max, eta and j1_hat must be >= 0; got {k}, {k_max}, {eta}, {j1_hat}")
        if beta is not None and beta < 0:
            raise InputError(f"beta must be >= 0 or None (Eq. 11); got {beta!r}")
        if hinge_eps is not None and not hinge_eps > 0:
            raise InputError(f"hinge_eps must be > 0; got {hinge_eps!r}")
        self.k0, self.adaptive, self.beta, self.eta = float(k), bool(adaptive), beta, float(eta)
        self.j1_hat, self.k_max, self.hinge_eps = float(j1_hat), float(k_max), hinge_eps
        self.latent_terms = latent_terms
        self.record = bool(record)
        if start_radius is not None and not start_radius >= 0:
            raise InputError(f"start_radius must be >= 0 or None; got {start_radius!r}")
        if start_radius is None:
            start_radius = 0.1 * float(hinge_eps) ** 0.5 if hinge_eps is not None else 0.0
        self.start_radius = float(start_radius)
        self.history: list[dict[str, float]] = []

    def run(
        self, problem: Problem, first: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[Best, torch.Tensor]:
        goal = problem.goal
        parts = getattr(goal, "parts", None)
        if not callable(parts):
            # a plain goal has no victim term: J1 = 0 and J2 = its loss (Adam on the loss, plus latent terms)
            def parts(out: torch.Tensor, target: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
                loss = goal.loss(out, target)
                return torch.zeros_like(loss), loss

        space, z0 = problem.space, problem.z0
        n = problem.batch
        z = z0.clone()
        if self.start_radius > 0:
            u = torch.randn(z0.shape, generator=generator, dtype=z0.dtype).to(z0.device)
            u = u / u.reshape(n, -1).norm(dim=1).clamp_min(1e-12).reshape((n,) + (1,) * (z0.dim() - 1))
            z = space.project(z0 + self.start_radius * u, z0)
        z.requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        k = torch.full((n,), self.k0, dtype=z0.dtype, device=z0.device)
        beta: torch.Tensor | None = None
        best = Best(
            z, torch.zeros(n, dtype=torch.bool, device=z0.device), torch.full((n,), float("inf"), dtype=z0.dtype)
        )
        self.history = []
        for t in range(self.steps + 1):
            opt.zero_grad(set_to_none=True)
            with torch.enable_grad():
                out, target = problem.observe(z)
                j1, j2 = parts(out, target)
                extra = self.latent_terms(z, problem.x) if self.latent_terms is not None else torch.zeros_like(j1)
                hinge = latent_hinge(z, z0, self.hinge_eps) if self.hinge_eps is not None else torch.zeros_like(j1)
                obj = j2 + k * j1 + extra + hinge
            with torch.no_grad():
                reached = goal.reached(out.detach(), None if target is None else target.detach())
                if self.hinge_eps is not None:  # Eq. 13 asks to leave the ε-sphere as well (z0 itself keeps f1)
                    reached = reached & (hinge.detach() == 0)
                best.update(z.detach(), reached, torch.where(reached, j1.detach(), obj.detach()))
                if self.record:
                    self.history.append(
                        {
                            "J1": float(j1.mean()),
                            "J2": float(j2.mean()),
                            "latent": float(extra.mean()),
                            "k": float(k.mean()),
                        }
                    )
            if t == self.steps:
                break
            obj.sum().backward()
            opt.step()
            with torch.no_grad():
                z.copy_(space.project(z, z0))
                if self.adaptive:
                    if beta is None:
                        beta = (
                            torch.full_like(k, self.beta)
                            if self.beta is not None
                            else (j2.detach() / j1.detach().clamp_min(1e-12))
                        )
                    k = k_update(k, j1.detach(), j2.detach(), beta, self.eta, self.j1_hat, self.k_max)
        return best, torch.full((n,), self.steps, dtype=torch.int64)
