"""Soundness audit of certificates: look for points inside certified regions where the smoothed
classifier (re-estimated with many samples) confidently predicts another class.

Candidate points per certified input: random points on the boundary and inside the certified region, and,
when a differentiable ``logits`` model is given, PGD points that fool the *base* model inside the region
(the engine's :class:`~semadv.search.PGD` run in a :class:`RegionSpace`). At every candidate the smoothed
counts are re-estimated with ``n`` fresh samples; a violation is a point where the Clopper–Pearson upper
bound of p(c_A) falls below the lower bound of another class's probability — beyond statistical error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from semadv.attack import Attack
from semadv.certify.noise import Anisotropic, Isotropic
from semadv.certify.smoothing import ABSTAIN, Certificate, Smoothing
from semadv.constraints import LpBall
from semadv.goals import Misclassification
from semadv.search import PGD
from semadv.spaces.base import Space
from semadv.stats import clopper_pearson


class RegionSpace(Space):
    """The certified regions {z0ᵢ + Rᵢ·Σ^{1/2}u : ‖u‖ ≤ 1} of a batch, parameterised by u in the unit ball.

    The source is the (B, 1) tensor of row indices, so subsets and restarts keep each row's region.
    """

    source = "index"

    def __init__(self, smoothing: Smoothing, x: torch.Tensor, radii: torch.Tensor) -> None:
        super().__init__(LpBall(1.0, 2))
        self.sm = smoothing
        self.x = x
        self.z0 = smoothing.space.encode(smoothing.space.check_source(x)).detach()
        noise = smoothing.noise
        D = self.z0.reshape(len(x), -1).shape[1]
        if isinstance(noise, Isotropic):
            self.root = noise.sigma * torch.eye(D, dtype=torch.float64)
        elif isinstance(noise, Anisotropic):
            self.root = noise.L
        else:
            raise TypeError(f"unsupported noise model {noise!r}")
        self.radii = radii.to(torch.float64)
        self.differentiable = smoothing.space.differentiable

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x), self.root.shape[0], dtype=self.z0.dtype, device=self.z0.device)

    def point(self, u: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Space parameters z for unit-ball coordinates ``u`` of the given rows."""
        delta = self.radii[rows].to(u)[:, None] * (u @ self.root.to(u).T)
        if self.sm.coordinates == "whitened":
            delta = self.sm.space.constraint.unwhiten(delta)
        z0 = self.z0[rows]
        return self.sm.space.extra_project((z0.reshape(len(rows), -1) + delta).reshape(z0.shape), z0)

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        rows = x[:, 0].long()
        return self.sm.space.decode(self.point(z, rows), self.x[rows])


@dataclass(frozen=True)
class AuditReport:
    inputs: int  # certified inputs audited
    points: int  # candidate points evaluated
    base_flips: int  # candidates where the base classifier's prediction differs from c_A
    violations: int  # candidates where the smoothed classifier confidently differs from c_A
    worst_margin: float  # max over points of (lower bound of best other class − upper bound of c_A)


def audit(
    smoothing: Smoothing,
    x: torch.Tensor,
    cert: Certificate,
    n: int = 10_000,
    points: int = 8,
    alpha: float = 0.001,
    logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
    pgd_steps: int = 10,
    generator: torch.Generator | None = None,
) -> AuditReport:
    """Audit ``cert`` (computed on ``x``) as described in the module docstring."""
    keep = (cert.prediction != ABSTAIN) & (cert.mahalanobis_radius > 0)
    rows = keep.nonzero()[:, 0]
    if rows.numel() == 0:
        return AuditReport(0, 0, 0, 0, float("-inf"))
    region = RegionSpace(smoothing, x, cert.mahalanobis_radius)
    D = region.root.shape[0]
    dt = region.z0.dtype
    us, owners = [], []
    for k in range(points):  # boundary points (even k) and uniform interior points (odd k)
        g = torch.randn(len(rows), D, generator=generator, dtype=torch.float64)
        g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-12)
        if k % 2:
            g = g * torch.rand(len(rows), 1, generator=generator, dtype=torch.float64) ** (1.0 / D)
        us.append(g.to(dt))
        owners.append(rows)
    if logits is not None:
        idx = rows.to(dt)[:, None]
        target = cert.prediction[rows]
        res = Attack(
            Misclassification(loss="margin"), region, PGD(steps=pgd_steps, alpha=0.25, restarts=2), checks=False
        )(logits, idx, target, generator=generator)
        us.append(res.z_adv.to(dt))
        owners.append(rows)
    u = torch.cat(us)
    own = torch.cat(owners)
    z = region.point(u, own)
    ca = cert.prediction[own]
    with torch.no_grad():
        base = smoothing.base(smoothing.space.decode(z, x[own]), own)
    c = smoothing.counts(x[own], n, generator, z=z)
    na = c.gather(1, ca[:, None])[:, 0]
    nb = c.scatter(1, ca[:, None], -1).amax(dim=1).clamp_min(0)
    upper_a = clopper_pearson(na.numpy(), n, alpha)[1]
    lower_b = clopper_pearson(nb.numpy(), n, alpha)[0]
    margin = lower_b - upper_a
    return AuditReport(
        int(rows.numel()), len(u), int((base.cpu() != ca).sum()), int(np.sum(margin > 0)), float(np.max(margin))
    )
