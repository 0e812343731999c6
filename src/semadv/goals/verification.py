"""Identity-verification goal: impersonate a target identity (SemanticAdv, seed 000 Eq. 4).

The victim is a face embedder; outputs are embeddings (B, D), the target is the target person's embedding
(B, D). Both are L2-normalised, so the distance is the "normalised L2 distance" of the paper. The loss is
``max(κ, ‖ê(x_adv) − ê(x_tgt)‖)`` (Eq. 4: once the pair is closer than κ there is nothing left to gain); an
attack has *reached* the goal when the distance is at most the verification threshold, i.e. the embedder
would accept the two images as the same person. κ comes from the generating FPR (G-FPR) and the success
threshold from the test FPR (T-FPR), chosen independently (§4.1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from semadv.errors import InputError
from semadv.registry import register


def verification_distance(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) normalised L2 distance between embeddings ``outputs`` and ``target`` (both (B, D))."""
    return (F.normalize(outputs, dim=1) - F.normalize(target.to(outputs), dim=1)).norm(dim=1)


@register("goal", "verification")
class VerificationGoal:
    """Impersonation against a verification threshold.

    Args:
        threshold: accept when the normalised distance is ≤ this (the embedder's T-FPR threshold).
        kappa: Eq. 4's floor of the loss (the G-FPR threshold); defaults to ``threshold``.
    """

    def __init__(self, threshold: float, kappa: float | None = None) -> None:
        thr = float(threshold)
        if not math.isfinite(thr) or not 0 < thr <= 2:
            raise InputError(f"threshold must be a normalised L2 distance in (0, 2]; got {threshold!r}")
        k = thr if kappa is None else float(kappa)
        if not math.isfinite(k) or not 0 <= k <= 2:
            raise InputError(f"kappa must be in [0, 2]; got {kappa!r}")
        self.threshold, self.kappa = thr, k

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None or outputs.dim() != 2 or target.shape != outputs.shape:
            raise InputError(
                f"verification needs embeddings (B, D) and target embeddings of the same shape; got "
                f"{tuple(outputs.shape)} and {None if target is None else tuple(target.shape)}"
            )
        if not bool(torch.isfinite(target).all()):
            raise InputError("target embeddings contain non-finite values")
        return target

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return verification_distance(outputs, target).clamp(min=self.kappa)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return verification_distance(outputs, target) <= self.threshold

    def margins(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return (self.threshold - verification_distance(outputs, target))[:, None]

    def __repr__(self) -> str:
        return f"VerificationGoal(threshold={self.threshold:.4g}, kappa={self.kappa:.4g})"
