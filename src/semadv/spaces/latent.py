"""LatentSpace: perturb a generator's latent along directions, w + Vᵀη (seed 002 §3.2–3.3)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from semadv.constraints import Constraint, Subspace
from semadv.errors import InputError
from semadv.registry import register
from semadv.spaces.base import Space


@register("space", "latent")
class LatentSpace(Space):
    """Source ``x`` is a batch of latent codes ``w`` (B, d); ``z = η`` and the image is ``G(w + Vᵀη)``.

    Args:
        generator: any differentiable callable latent (B, d) → image (B, C, H, W) in [0, 1].
        constraint: the magnitude constraint on η, typically
            :meth:`Ellipsoid.from_budgets <semadv.constraints.Ellipsoid.from_budgets>` (M = diag(εᵢ⁻²)).
        V: directions (N, d) (the direction constraint of §3.2); ``None`` perturbs w itself (N = d).
        truth: ``"fixed"`` declares that the images keep task ground truth (landmarks, boxes, class maps) where
            the source has it, so goals scoring ground truth may run here; ``None`` (default): unknown, they
            are refused (a learned generator may move content; semadv.truth).
    """

    source = "latent"

    def __init__(
        self,
        generator: Callable[[torch.Tensor], torch.Tensor],
        constraint: Constraint,
        V: torch.Tensor | None = None,
        truth: str | None = None,
    ) -> None:
        if not callable(generator):
            raise InputError(f"generator must be callable; got {type(generator).__name__}")
        super().__init__(constraint)
        self._declare_truth(truth)
        self.generator = generator
        self.subspace = None if V is None else Subspace(V)

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise InputError(
                f"LatentSpace source must be latent codes of shape (B, d); got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        if self.subspace is not None and x.shape[1] != self.subspace.d:
            raise InputError(f"latent dim {x.shape[1]} does not match directions V of dim {self.subspace.d}")
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1] if self.subspace is None else self.subspace.n
        return torch.zeros(x.shape[0], n, dtype=x.dtype, device=x.device)

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        shift = z if self.subspace is None else self.subspace.lift(z)
        return self.generator(x + shift)
