"""Misclassification goals, untargeted and targeted, with cross-entropy or margin (CW) loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semadv.errors import InputError
from semadv.registry import register


def _labels(target: torch.Tensor | None) -> torch.Tensor:
    if target is None:
        raise InputError("misclassification needs labels: true labels (untargeted) or target labels")
    return target


def _other_max(logits: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
    """max_{j ≠ cls} logits_j, (B,)."""
    masked = logits.masked_fill(F.one_hot(cls, logits.shape[1]).bool(), float("-inf"))
    return masked.amax(dim=1)


@register("goal", "misclassify")
class Misclassification:
    """Untargeted (``target`` = true labels, leave them) or targeted (``target`` = wanted labels).

    Loss (minimised by searches):

    * ``"ce"``: untargeted −CE(f(x), y) (Madry et al. 2018); targeted CE(f(x), t).
    * ``"margin"``: Carlini & Wagner (2017) Eq. (f6) on logits, clamped at −κ:
      untargeted f_y − max_{j≠y} f_j; targeted max_{j≠t} f_j − f_t.

    ``margins`` (for minimum-norm boundary searches such as FAB, Croce & Hein 2020) returns, per class
    j, the linearisable quantity whose positivity means the goal is reached: untargeted f_j − f_y
    (column y set to −inf), targeted f_t − max_{j≠t} f_j.
    """

    def __init__(self, targeted: bool = False, loss: str = "ce", kappa: float = 0.0) -> None:
        if loss not in ("ce", "margin"):
            raise InputError(f"loss must be 'ce' or 'margin'; got {loss!r}")
        if kappa < 0:
            raise InputError(f"kappa must be >= 0; got {kappa!r}")
        self.targeted = bool(targeted)
        self.loss_name = loss
        self.kappa = float(kappa)

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None:
            raise InputError("misclassification needs labels: true labels (untargeted) or target labels")
        if outputs.dim() != 2:
            raise InputError(f"classifier outputs must be logits of shape (B, K); got {tuple(outputs.shape)}")
        if target.dim() != 1 or target.shape[0] != outputs.shape[0]:
            raise InputError(
                f"batch size mismatch: target has shape {tuple(target.shape)}, victim outputs {tuple(outputs.shape)}"
            )
        if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise InputError(f"target must hold integer class indices; got dtype {target.dtype}")
        K = outputs.shape[1]
        if bool((target < 0).any() | (target >= K).any()):
            bad = target[(target < 0) | (target >= K)][0].item()
            raise InputError(f"target class {bad} out of range for {K} classes")
        return target.long()

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        target = _labels(target)
        if self.loss_name == "ce":
            ce = F.cross_entropy(outputs, target, reduction="none")
            return ce if self.targeted else -ce
        own = outputs.gather(1, target[:, None])[:, 0]
        other = _other_max(outputs, target)
        m = other - own if self.targeted else own - other
        return m.clamp_min(-self.kappa)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        target = _labels(target)
        pred = outputs.argmax(dim=1)
        return pred == target if self.targeted else pred != target

    def margins(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        target = _labels(target)
        own = outputs.gather(1, target[:, None])
        if self.targeted:
            return own - _other_max(outputs, target)[:, None]
        diff = outputs - own
        return diff.masked_fill(F.one_hot(target, outputs.shape[1]).bool(), float("-inf"))

    def __repr__(self) -> str:
        return f"Misclassification(targeted={self.targeted}, loss={self.loss_name!r})"
