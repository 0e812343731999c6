"""Gaussian noise models for randomized smoothing in a space's parameters, with their certified radii.

* :class:`Isotropic` — Σ = σ²I: Cohen et al. 2019, Thm. 1: R = σ·Φ⁻¹(p_A) (p_B = 1 − p_A), or
  R = ½σ(Φ⁻¹(p_A) − Φ⁻¹(p_B)) when p_B is bounded separately.
* :class:`Anisotropic` — any SPD Σ (seed 002 Proposition 1; Eiras et al. ANCER): the certified region is
  the ellipsoid {δ : √(δᵀΣ⁻¹δ) ≤ R_Σ} with R_Σ = ½(Φ⁻¹(p_A) − Φ⁻¹(p_B)); seed 002 uses Σ = σ·M⁻¹ with M the
  attack's ellipsoid (:meth:`Anisotropic.from_ellipsoid`). Its volume-equivalent radius proxy (the
  radius of the ball of equal volume) is R_Σ·det(Σ)^{1/(2n)}.
"""

from __future__ import annotations

import math

import torch
from scipy.stats import norm

from semadv.checks import check_positive
from semadv.constraints import Ellipsoid
from semadv.errors import ConstraintError


def _phi_inv(p: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(norm.ppf(p.double().cpu().numpy()), dtype=torch.float64)


class NoiseModel:
    """ε ~ N(0, Σ) in R^D, D = the space's parameter dimension."""

    dim: int | None = None

    def sample(self, n: int, dim: int, generator: torch.Generator | None, dtype: torch.dtype) -> torch.Tensor:
        raise NotImplementedError

    def mahalanobis_radius(self, p_a: torch.Tensor, p_b: torch.Tensor | None = None) -> torch.Tensor:
        """R_Σ: the certified radius in the metric √(δᵀΣ⁻¹δ) (Proposition 1); NaN/negative → 0."""
        pa = _phi_inv(p_a)
        r = pa if p_b is None else 0.5 * (pa - _phi_inv(p_b))
        return torch.nan_to_num(r, nan=0.0).clamp_min(0.0)

    def radius(self, p_a: torch.Tensor, p_b: torch.Tensor | None = None) -> torch.Tensor:
        """A Euclidean radius: exact for isotropic noise, the volume-equivalent proxy otherwise."""
        raise NotImplementedError


class Isotropic(NoiseModel):
    """Σ = σ²I."""

    def __init__(self, sigma: float) -> None:
        self.sigma = check_positive(sigma, "sigma")

    def sample(self, n: int, dim: int, generator: torch.Generator | None, dtype: torch.dtype) -> torch.Tensor:
        return self.sigma * torch.randn(n, dim, generator=generator, dtype=dtype)

    def radius(self, p_a: torch.Tensor, p_b: torch.Tensor | None = None) -> torch.Tensor:
        return self.sigma * self.mahalanobis_radius(p_a, p_b)

    def __repr__(self) -> str:
        return f"Isotropic(sigma={self.sigma:g})"


class Anisotropic(NoiseModel):
    """Σ symmetric positive definite (a vector gives its diagonal)."""

    def __init__(self, Sigma: torch.Tensor) -> None:
        S = torch.as_tensor(Sigma, dtype=torch.float64)
        if S.dim() == 1:
            S = torch.diag(S)
        if S.dim() != 2 or S.shape[0] != S.shape[1]:
            raise ConstraintError(f"Sigma must be a vector or a square matrix; got shape {tuple(S.shape)}")
        if not torch.allclose(S, S.T, atol=1e-10):
            raise ConstraintError("Sigma is not symmetric positive definite: not symmetric")
        evals = torch.linalg.eigvalsh(S)
        if float(evals.min()) <= 0:
            raise ConstraintError(
                f"Sigma is not symmetric positive definite: smallest eigenvalue {float(evals.min()):.4g}"
            )
        self.Sigma = S
        self.L = torch.linalg.cholesky(S)
        self.n: int = int(S.shape[0])
        self.dim = self.n
        self.log_det = float(torch.log(evals).sum())

    @classmethod
    def from_ellipsoid(cls, ellipsoid: Ellipsoid, sigma: float) -> Anisotropic:
        """Seed 002 §4.4: Σ = σ·M⁻¹ for the attack's ellipsoid ‖η‖_M ≤ ε."""
        check_positive(sigma, "sigma")
        return cls(sigma * torch.linalg.inv(ellipsoid.matrix()))

    def sample(self, n: int, dim: int, generator: torch.Generator | None, dtype: torch.dtype) -> torch.Tensor:
        if dim != self.n:
            raise ConstraintError(f"noise of dimension {self.n} used in a space of dimension {dim}")
        z = torch.randn(n, dim, generator=generator, dtype=torch.float64)
        return (z @ self.L.T).to(dtype)

    def radius(self, p_a: torch.Tensor, p_b: torch.Tensor | None = None) -> torch.Tensor:
        """Volume-equivalent radius proxy (ANCER): R_Σ · det(Σ)^{1/(2n)}."""
        return self.mahalanobis_radius(p_a, p_b) * math.exp(self.log_det / (2 * self.n))

    def __repr__(self) -> str:
        return f"Anisotropic(dim={self.n})"
