"""Batched feasible sets for perturbations: box, L∞ / L2 balls, ellipsoids, and a subspace map.

Every constraint works on a batch ``z`` of shape ``(B, *D)`` relative to a ``center`` of the same shape
and offers the same operations: :meth:`~Constraint.norm`, :meth:`~Constraint.project`,
:meth:`~Constraint.contains`, :meth:`~Constraint.sample` (uniform inside, for random restarts),
:meth:`~Constraint.steepest` (the unit-norm steepest-ascent direction of the constraint's metric, used by
PGD), :meth:`~Constraint.whiten` / :meth:`~Constraint.unwhiten` (coordinates in which the metric is a plain
Lp norm, used by FAB), and a cube view (:meth:`~Constraint.from_cube`) for black-box searches.
Device and dtype follow the inputs.

The ellipsoid projection is the exact one of Sec. 3.3, Eq. (1)–(2) of *Semantic robustness of face
recognition models* (seed 002): minimise ½‖v − x‖² subject to xᵀMx ≤ ε², solved through the KKT system
``(I + λM) x = v`` with the multiplier λ ≥ 0 found by vectorised bisection (Newton-accelerated) on
``h(λ) = vᵀ(I+λM)⁻¹M(I+λM)⁻¹v − ε²`` (a general SPD ``M`` is first rotated to its eigen-basis, where the
problem is diagonal because ‖·‖₂ is rotation invariant).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from semadv.checks import check_positive
from semadv.errors import ConstraintError, InputError

__all__ = [
    "Box",
    "Constraint",
    "Ellipsoid",
    "LpBall",
    "Subspace",
    "Unbounded",
    "parse_p",
    "project_ellipsoid",
]

_TINY = 1e-12


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _bview(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a ``(B,)`` vector to broadcast against ``like`` of shape ``(B, *D)``."""

    return v.reshape((-1,) + (1,) * (like.dim() - 1))


def parse_p(p: float | str) -> float:
    """Accept ``inf``/``"linf"``/``"Linf"`` and ``2``/``"l2"``; anything else is refused."""

    if isinstance(p, str):
        key = p.lower().lstrip("l")
        if key in ("inf", "∞"):
            return math.inf
        if key == "2":
            return 2.0
    elif p == math.inf or p == 2:
        return float(p)
    raise ConstraintError(f"norm p must be 2 or inf; got {p!r}")


def _uniform_ball(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Uniform samples in the unit L2 ball of R^D, D = prod(shape[1:])."""

    B = shape[0]
    D = int(math.prod(shape[1:]))
    g = torch.randn((B, D), generator=generator, dtype=like.dtype, device="cpu").to(like.device)
    g = g / g.norm(dim=1, keepdim=True).clamp_min(_TINY)
    r = torch.rand((B, 1), generator=generator, dtype=like.dtype, device="cpu").to(like.device) ** (1.0 / D)
    return (g * r).reshape(shape)


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    # Draw on CPU so that a CPU generator gives the same numbers whatever the device of ``like``.
    return torch.rand(shape, generator=generator, dtype=like.dtype, device="cpu").to(like.device)


def _unit_l2(g: torch.Tensor) -> torch.Tensor:
    """Rows of ``g`` scaled to unit L2 norm (robust to tiny and huge magnitudes); zero rows stay zero."""

    f = _flat(g)
    tiny = torch.finfo(g.dtype).tiny
    scaled = f / f.abs().amax(dim=1, keepdim=True).clamp_min(tiny)
    return (scaled / scaled.norm(dim=1, keepdim=True).clamp_min(tiny)).reshape(g.shape)


def _radial_cube_to_ball(v: torch.Tensor) -> torch.Tensor:
    """Bijection from the cube [-1, 1]^D onto the unit L2 ball, radial: v ↦ v·‖v‖∞/‖v‖₂."""

    f = _flat(v)
    scale = f.abs().amax(dim=1) / f.norm(dim=1).clamp_min(_TINY)
    return v * _bview(scale, v)


def _radial_ball_to_cube(u: torch.Tensor) -> torch.Tensor:
    f = _flat(u)
    scale = f.norm(dim=1) / f.abs().amax(dim=1).clamp_min(_TINY)
    return u * _bview(scale, u)


class Constraint(ABC):
    """A feasible set around a center, in a metric with whitened coordinates."""

    #: exponent of the plain norm in whitened coordinates (2 or inf); used by minimum-norm searches
    p: float = math.inf
    #: True when whitening acts elementwise (so box bounds stay boxes in whitened coordinates)
    elementwise: bool = True
    #: the budget in the constraint's own metric (default step sizes are fractions of it)
    radius: float = 1.0

    @abstractmethod
    def norm(self, delta: torch.Tensor) -> torch.Tensor:
        """Size of perturbations ``delta`` (B, *D) in this constraint's metric → (B,)."""

    @abstractmethod
    def project(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        """Euclidean projection of ``z`` onto the feasible set around ``center``."""

    @abstractmethod
    def steepest(self, grad: torch.Tensor) -> torch.Tensor:
        """argmax_{‖d‖ ≤ 1} ⟨grad, d⟩ in this metric (sign for L∞, normalised gradient for L2, …)."""

    @abstractmethod
    def sample(self, center: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform random points of the feasible set, one per row of ``center``."""

    @abstractmethod
    def from_cube(self, v: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        """Map ``v`` in [-1, 1]^D onto the feasible set (surjective; identity-preserving at v = 0 for balls)."""

    def whiten(self, delta: torch.Tensor) -> torch.Tensor:
        """Coordinates ``u`` with ``norm(delta) == ‖u‖_p``."""
        return delta

    def unwhiten(self, u: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`whiten`."""
        return u

    def contains(self, z: torch.Tensor, center: torch.Tensor, atol: float = 1e-5) -> torch.Tensor:
        """(B,) bool: is ``z`` feasible (up to ``atol`` in the constraint's own units)?"""
        return self.violation(z, center) <= atol

    @abstractmethod
    def violation(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        """(B,) how far outside the feasible set ``z`` lies (0 inside), in the constraint's units."""


class Box(Constraint):
    """Per-coordinate bounds ``lo ≤ z ≤ hi`` (absolute; the center is ignored by the projection).

    Its metric is the L∞ norm in unit-cube coordinates, ``‖(z − center) / (hi − lo)‖∞``.
    """

    p = math.inf

    def __init__(self, lo: float | torch.Tensor, hi: float | torch.Tensor) -> None:
        lo_t = torch.as_tensor(lo, dtype=torch.float64)
        hi_t = torch.as_tensor(hi, dtype=torch.float64)
        if lo_t.shape != hi_t.shape:
            raise ConstraintError(f"box bounds differ in shape: lo {tuple(lo_t.shape)} vs hi {tuple(hi_t.shape)}")
        if not bool(torch.isfinite(lo_t).all() & torch.isfinite(hi_t).all()):
            raise ConstraintError("box bounds must be finite")
        if bool((hi_t <= lo_t).any()):
            bad = (hi_t <= lo_t).nonzero()[0].tolist()
            raise ConstraintError(
                f"box needs lo < hi everywhere; at index {bad}: lo={lo_t[tuple(bad)].item()!r}, "
                f"hi={hi_t[tuple(bad)].item()!r}"
            )
        self.lo, self.hi = lo_t, hi_t

    def _b(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            self.lo.to(device=like.device, dtype=like.dtype),
            self.hi.to(device=like.device, dtype=like.dtype),
        )

    def norm(self, delta: torch.Tensor) -> torch.Tensor:
        return _flat(self.whiten(delta)).abs().amax(dim=1)

    def project(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        lo, hi = self._b(z)
        return torch.maximum(torch.minimum(z, hi), lo)

    def violation(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        lo, hi = self._b(z)
        over = torch.clamp(z - hi, min=0) + torch.clamp(lo - z, min=0)
        return _flat(over / (hi - lo)).amax(dim=1)

    def steepest(self, grad: torch.Tensor) -> torch.Tensor:
        lo, hi = self._b(grad)
        return grad.sign() * (hi - lo)

    def whiten(self, delta: torch.Tensor) -> torch.Tensor:
        lo, hi = self._b(delta)
        return delta / (hi - lo)

    def unwhiten(self, u: torch.Tensor) -> torch.Tensor:
        lo, hi = self._b(u)
        return u * (hi - lo)

    def sample(self, center: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        lo, hi = self._b(center)
        return lo + (hi - lo) * _rand(tuple(center.shape), generator, center)

    def from_cube(self, v: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        lo, hi = self._b(v)
        return lo + (hi - lo) * (v + 1) / 2


class Unbounded(Constraint):
    """A metric without a budget: distances, steepest directions and whitening of ``metric``, but every
    point is feasible (``project`` is the identity, ``violation`` 0).

    Minimum-norm and penalty searches (FAB, Adam with a penalty, Type I) run in such a space and report
    distances in the metric instead of being cut off by a budget they do not need. Random starts and the
    unit-cube view still use ``metric``'s own region (a scale for "random", not a limit). Build one with
    :meth:`semadv.spaces.base.Space.unbounded`.
    """

    metric: Constraint

    def __init__(self, metric: Constraint) -> None:
        self.metric = metric.metric if isinstance(metric, Unbounded) else metric
        self.p, self.elementwise, self.radius = metric.p, metric.elementwise, metric.radius

    def norm(self, delta: torch.Tensor) -> torch.Tensor:
        return self.metric.norm(delta)

    def project(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return z

    def steepest(self, grad: torch.Tensor) -> torch.Tensor:
        return self.metric.steepest(grad)

    def sample(self, center: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.metric.sample(center, generator)

    def from_cube(self, v: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return self.metric.from_cube(v, center)

    def whiten(self, delta: torch.Tensor) -> torch.Tensor:
        return self.metric.whiten(delta)

    def unwhiten(self, u: torch.Tensor) -> torch.Tensor:
        return self.metric.unwhiten(u)

    def violation(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)

    def __repr__(self) -> str:
        return f"Unbounded({self.metric!r})"


class LpBall(Constraint):
    """``‖(z − center) / scale‖_p ≤ eps`` for p ∈ {2, ∞} over all non-batch dimensions.

    ``scale`` (optional, per coordinate of the flattened parameters, p = ∞ only) gives each coordinate
    its own budget ``eps·scale_i`` — seed 003's per-parameter step sizes in normalised units. For a scaled
    L2 ball use :class:`Ellipsoid` with M = diag(scale⁻²).
    """

    def __init__(
        self, eps: float, p: float | str = math.inf, scale: torch.Tensor | Sequence[float] | None = None
    ) -> None:
        self.eps = check_positive(eps, "eps")
        self.radius = self.eps
        self.p = parse_p(p)
        self.scale: torch.Tensor | None = None
        if scale is not None:
            sc = torch.as_tensor(scale, dtype=torch.float64)
            if self.p != math.inf:
                raise ConstraintError("a per-coordinate scale needs p = inf; use Ellipsoid for a scaled L2 ball")
            if sc.dim() != 1 or sc.numel() == 0 or not bool(torch.isfinite(sc).all()) or bool((sc <= 0).any()):
                raise ConstraintError(f"scale must be a vector of finite values > 0; got {sc.tolist()}")
            self.scale = sc

    def _s(self, like: torch.Tensor) -> torch.Tensor | float:
        return 1.0 if self.scale is None else self.scale.to(device=like.device, dtype=like.dtype)

    def whiten(self, delta: torch.Tensor) -> torch.Tensor:
        return delta / self._s(delta)

    def unwhiten(self, u: torch.Tensor) -> torch.Tensor:
        return u * self._s(u)

    def norm(self, delta: torch.Tensor) -> torch.Tensor:
        f = _flat(self.whiten(delta))
        return f.abs().amax(dim=1) if self.p == math.inf else f.norm(dim=1)

    def project(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        d = z - center
        if self.p == math.inf:
            if self.scale is None:
                return center + d.clamp(-self.eps, self.eps)
            bound = self.eps * self.scale.to(device=z.device, dtype=z.dtype)
            return center + torch.maximum(torch.minimum(d, bound), -bound)
        n = _flat(d).norm(dim=1)
        factor = torch.where(n > self.eps, self.eps / n.clamp_min(_TINY), torch.ones_like(n))
        return center + d * _bview(factor, d)

    def violation(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.norm(z - center) - self.eps, min=0)

    def steepest(self, grad: torch.Tensor) -> torch.Tensor:
        if self.p == math.inf:
            return grad.sign() * self._s(grad)
        return _unit_l2(grad)

    def sample(self, center: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        shape = tuple(center.shape)
        if self.p == math.inf:
            return center + self.eps * self._s(center) * (2 * _rand(shape, generator, center) - 1)
        return center + self.eps * _uniform_ball(shape, generator, center)

    def from_cube(self, v: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        if self.p == math.inf:
            return center + self.eps * self._s(v) * v
        return center + self.eps * _radial_cube_to_ball(v)

    def __repr__(self) -> str:
        extra = "" if self.scale is None else f", scale={[round(v, 4) for v in self.scale.tolist()]}"
        return f"LpBall(eps={self.eps:g}, p={self.p:g}{extra})"


def project_ellipsoid(
    v: torch.Tensor, m: torch.Tensor, eps: float | torch.Tensor = 1.0, max_iter: int = 100, tol: float = 1e-14
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact Euclidean projection of rows of ``v`` (B, N) onto {x : Σ mᵢxᵢ² ≤ ε²}, M = diag(m) ≻ 0.

    Seed 002, Eq. (1)–(2): x* = (I + λ*M)⁻¹ v with λ* ≥ 0 the root of
    h(λ) = Σ mᵢvᵢ²/(1 + λmᵢ)² − ε², decreasing in λ. The root is found, vectorised over the batch, by
    bisection on the bracket [0, ‖v‖/(ε·√min m) + 1] accelerated with Newton steps on the secular form
    φ(λ) = 1/√(h(λ)+ε²) − 1/ε (Moré & Sorensen 1983; φ is concave and increasing, so Newton from the left
    never overshoots); any Newton step leaving the current bracket is replaced by a bisection step.
    Iterates until every row has converged to ``tol`` (relative) or ``max_iter``. Computation is done in
    float64 and cast back. Returns ``(x, λ)`` with λ = 0 for rows already inside.
    """

    if v.dim() != 2:
        raise InputError(f"project_ellipsoid expects v of shape (B, N); got {tuple(v.shape)}")
    dt = v.dtype
    v64 = v.to(torch.float64)
    m64 = torch.as_tensor(m, device=v.device).to(torch.float64).expand_as(v64)
    e = torch.as_tensor(eps, device=v.device, dtype=torch.float64).reshape(-1).expand(v64.shape[0])
    mv2 = m64 * v64 * v64
    m2v2 = m64 * mv2
    outside = mv2.sum(dim=1) > e * e
    lo = torch.zeros_like(e)
    hi = v64.norm(dim=1) / (e * m64.amin(dim=1).sqrt()) + 1.0
    lam = torch.zeros_like(e)
    inv_e = 1.0 / e
    for _ in range(max_iter):
        den = 1 + lam[:, None] * m64
        q = (mv2 / den**2).sum(dim=1)
        phi = q.rsqrt() - inv_e  # < 0 left of the root
        left = phi < 0
        lo = torch.where(left, lam, lo)
        hi = torch.where(left, hi, lam)
        dphi = q.pow(-1.5) * (m2v2 / den**3).sum(dim=1)
        newton = lam - phi / dphi.clamp_min(torch.finfo(torch.float64).tiny)
        ok = (newton >= lo) & (newton <= hi)
        new = torch.where(ok, newton, 0.5 * (lo + hi))
        new = torch.where(phi == 0, lam, new)
        new = torch.where(outside, new, torch.zeros_like(new))
        done = ((new - lam).abs() <= tol * new.abs().clamp_min(1.0)) | (phi == 0)
        lam = new
        if bool(done.all()):
            break
    x = v64 / (1 + lam[:, None] * m64)
    # feasibility safeguard against the last ulp
    nrm = (m64 * x * x).sum(dim=1).sqrt()
    x = x * torch.where(nrm > e, e / nrm, torch.ones_like(nrm))[:, None]
    return x.to(dt), lam.to(dt)


class Ellipsoid(Constraint):
    """``‖z − center‖_M = sqrt(δᵀMδ) ≤ eps`` with M symmetric positive definite (seed 002 §3.2).

    ``M`` may be a vector (the diagonal, the paper's M = diag(ε_i⁻²)) or a full SPD matrix. Use
    :meth:`from_budgets` to build the minimum-volume ellipsoid enclosing per-attribute budgets |ηᵢ| ≤ εᵢ.
    Whitened coordinates are u = Λ^{1/2}Qᵀδ with M = QΛQᵀ, so ‖u‖₂ = ‖δ‖_M.
    """

    p = 2.0

    def __init__(self, M: torch.Tensor | Sequence[float], eps: float = 1.0) -> None:
        M_t = torch.as_tensor(M, dtype=torch.float64)
        self.eps = check_positive(eps, "eps")
        self.radius = self.eps
        if M_t.dim() == 1:
            if M_t.numel() == 0 or not bool(torch.isfinite(M_t).all()) or bool((M_t <= 0).any()):
                raise ConstraintError(f"diagonal M must be finite and > 0; got {M_t.tolist()}")
            self.evals, self.Q = M_t, None
        elif M_t.dim() == 2 and M_t.shape[0] == M_t.shape[1]:
            if not bool(torch.isfinite(M_t).all()):
                raise ConstraintError("M contains NaN or infinite values")
            asym = float((M_t - M_t.T).abs().max())
            if asym > 1e-8 * max(1.0, float(M_t.abs().max())):
                raise ConstraintError(f"M is not symmetric positive definite: max |M - Mᵀ| = {asym:.3g}")
            evals, Q = torch.linalg.eigh(0.5 * (M_t + M_t.T))
            if float(evals.min()) <= 0:
                raise ConstraintError(
                    f"M is not symmetric positive definite: smallest eigenvalue {float(evals.min()):.4g}"
                )
            self.evals, self.Q = evals, Q
            if bool(torch.allclose(M_t, torch.diag(torch.diagonal(M_t)))):
                self.evals, self.Q = torch.diagonal(M_t).clone(), None
        else:
            raise ConstraintError(f"M must be a vector (diagonal) or a square matrix; got shape {tuple(M_t.shape)}")
        self.elementwise = self.Q is None
        self.dim = int(self.evals.numel())

    @classmethod
    def from_budgets(cls, budgets: Sequence[float] | torch.Tensor) -> Ellipsoid:
        """Seed 002 §3.2: the minimum-volume ellipsoid with |ηᵢ| ≤ εᵢ has M = diag(εᵢ⁻²), radius 1."""

        b = torch.as_tensor(budgets, dtype=torch.float64)
        if b.dim() != 1 or b.numel() == 0 or not bool(torch.isfinite(b).all()) or bool((b <= 0).any()):
            raise ConstraintError(f"budgets must be a non-empty vector of finite values > 0; got {b.tolist()}")
        return cls(b**-2, eps=1.0)

    def _check(self, t: torch.Tensor) -> None:
        if t.dim() != 2 or t.shape[1] != self.dim:
            raise InputError(f"ellipsoid in R^{self.dim} expects shape (B, {self.dim}); got {tuple(t.shape)}")

    def _rot(self, d: torch.Tensor) -> torch.Tensor:  # δ → Qᵀδ (eigen-basis coordinates)
        return d if self.Q is None else d @ self.Q.to(d)

    def _unrot(self, d: torch.Tensor) -> torch.Tensor:
        return d if self.Q is None else d @ self.Q.to(d).T

    def norm(self, delta: torch.Tensor) -> torch.Tensor:
        self._check(delta)
        return self.whiten(delta).norm(dim=1)

    def project(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        self._check(z)
        x, _ = project_ellipsoid(self._rot(z - center), self.evals.to(z), self.eps)
        return center + self._unrot(x)

    def project_with_multiplier(self, z: torch.Tensor, center: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`project`, also returning the KKT multiplier λ (B,) of Eq. (2)."""
        self._check(z)
        x, lam = project_ellipsoid(self._rot(z - center), self.evals.to(z), self.eps)
        return center + self._unrot(x), lam

    def violation(self, z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.norm(z - center) - self.eps, min=0)

    def steepest(self, grad: torch.Tensor) -> torch.Tensor:
        # argmax ⟨g, d⟩ s.t. dᵀMd ≤ 1  →  d = M⁻¹g / sqrt(gᵀM⁻¹g): a normalised step in whitened coordinates
        self._check(grad)
        gw = self._rot(grad) / self.evals.to(grad).sqrt()  # = Λ^{-1/2}Qᵀg, the gradient w.r.t. u
        return self.unwhiten(_unit_l2(gw))

    def whiten(self, delta: torch.Tensor) -> torch.Tensor:
        return self._rot(delta) * self.evals.to(delta).sqrt()

    def unwhiten(self, u: torch.Tensor) -> torch.Tensor:
        return self._unrot(u / self.evals.to(u).sqrt())

    def sample(self, center: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self._check(center)
        u = self.eps * _uniform_ball(tuple(center.shape), generator, center)
        return center + self.unwhiten(u)

    def from_cube(self, v: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
        return center + self.unwhiten(self.eps * _radial_cube_to_ball(v))

    def matrix(self) -> torch.Tensor:
        """The full matrix M (float64)."""
        if self.Q is None:
            return torch.diag(self.evals)
        return self.Q @ torch.diag(self.evals) @ self.Q.T

    def __repr__(self) -> str:
        kind = "diag" if self.Q is None else "full"
        return f"Ellipsoid({kind}, N={self.dim}, eps={self.eps:g})"


class Subspace:
    """Directions V (N, d): the map η ↦ Vᵀη of seed 002 §3.2 (perturbation w + Vᵀη in a latent space).

    Rows of V need not be orthogonal but must be linearly independent.
    """

    def __init__(self, V: torch.Tensor) -> None:
        if not isinstance(V, torch.Tensor) or V.dim() != 2:
            raise InputError(f"V must be a (N, d) tensor of directions; got {getattr(V, 'shape', V)!r}")
        if not bool(torch.isfinite(V).all()):
            raise InputError("V contains NaN or infinite values")
        rank = int(torch.linalg.matrix_rank(V.to(torch.float64)))
        if rank < V.shape[0]:
            raise InputError(f"the {V.shape[0]} directions in V are linearly dependent (rank {rank})")
        self.V = V.detach()
        self.n, self.d = V.shape

    def lift(self, eta: torch.Tensor) -> torch.Tensor:
        """η (B, N) → Vᵀη (B, d)."""
        if eta.dim() != 2 or eta.shape[1] != self.n:
            raise InputError(f"η must have shape (B, {self.n}); got {tuple(eta.shape)}")
        return eta @ self.V.to(eta)

    def coords(self, delta: torch.Tensor) -> torch.Tensor:
        """Least-squares coordinates η of a latent displacement (B, d): argmin ‖Vᵀη − δ‖."""
        return torch.linalg.lstsq(self.V.to(delta).T, delta.T).solution.T
