"""Segmentation goal: mislabel most pixels of a scene (seed 004 §4, attack success at ratio θ)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semadv.errors import InputError
from semadv.registry import register


def misclassified_ratio(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) fraction of pixels whose predicted class differs from ``labels`` (the oracle: the layout)."""
    return (logits.argmax(1) != labels.to(logits.device).long()).float().flatten(1).mean(1)


@register("goal", "segmentation")
class SegmentationGoal:
    """Untargeted per-pixel attack on a segmenter: outputs (B, K, H, W) logits, target (B, H, W) labels.

    ``loss`` = −mean pixel cross-entropy (minimised by searches ⇒ the pixels' loss grows); ``reached`` when
    the misclassified-pixel ratio exceeds ``theta`` (seed 004: θ = 0.95); ``margins`` = ratio − θ.
    """

    def __init__(self, theta: float = 0.95) -> None:
        if not 0 <= float(theta) < 1:
            raise InputError(f"theta must be in [0, 1); got {theta!r}")
        self.theta = float(theta)

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None or outputs.dim() != 4 or target.shape != (outputs.shape[0], *outputs.shape[2:]):
            raise InputError(
                f"segmentation needs outputs (B, K, H, W) and target labels (B, H, W); got "
                f"{tuple(outputs.shape)} and {None if target is None else tuple(target.shape)}"
            )
        return target

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return -F.cross_entropy(outputs, target.long(), reduction="none").flatten(1).mean(1)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return misclassified_ratio(outputs, target) > self.theta

    def margins(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return (misclassified_ratio(outputs, target) - self.theta)[:, None]

    def __repr__(self) -> str:
        return f"SegmentationGoal(theta={self.theta:g})"
