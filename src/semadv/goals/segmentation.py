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

    #: the labels are the scene's class map: spaces that move content move them (semadv.truth)
    truth_kind = "mask"

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


@register("goal", "region")
class RegionGoal:
    """Change what a segmenter predicts on one object's pixels (SemanticAdv street attacks, seed 000 §4.4).

    The target given at call time is the object's mask (B, H, W). With ``to=None`` the attack *removes*
    class ``cls`` there (success: at least ``theta`` of the mask's pixels are no longer predicted ``cls``);
    with ``to`` set it relabels them (success: at least ``theta`` of them are predicted ``to``, e.g. a
    cyclist predicted "person"). The loss is the mean CW margin over the mask, floored at −κ.
    """

    #: the mask is where the object is in the scene: it moves with it (semadv.truth)
    truth_kind = "mask"

    def __init__(self, cls: int, to: int | None = None, theta: float = 0.9, kappa: float = 1.0) -> None:
        if int(cls) < 0 or (to is not None and int(to) < 0):
            raise InputError(f"class indices must be >= 0; got cls={cls!r}, to={to!r}")
        if to is not None and int(to) == int(cls):
            raise InputError(f"to must differ from cls; both are {cls!r}")
        if not 0 < float(theta) <= 1:
            raise InputError(f"theta must be in (0, 1]; got {theta!r}")
        self.cls, self.to = int(cls), None if to is None else int(to)
        self.theta, self.kappa = float(theta), float(kappa)

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None or outputs.dim() != 4 or target.shape != (outputs.shape[0], *outputs.shape[2:]):
            raise InputError(
                f"region goal needs outputs (B, K, H, W) and masks (B, H, W); got {tuple(outputs.shape)} "
                f"and {None if target is None else tuple(target.shape)}"
            )
        k = outputs.shape[1]
        if max(self.cls, self.to if self.to is not None else 0) >= k:
            raise InputError(f"class index out of range for {k} classes: cls={self.cls}, to={self.to}")
        if bool((target.flatten(1).sum(1) == 0).any()):
            raise InputError("every mask must contain at least one pixel")
        return target.bool()

    def fraction(self, outputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,) fraction of each mask's pixels that satisfy the goal (not ``cls``, or ``to``)."""
        pred = outputs.argmax(1)
        hit = pred == self.to if self.to is not None else pred != self.cls
        m = mask.to(outputs.device).float()  # a mask moved out of the frame is empty: fraction 0
        return (hit.float() * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1)

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        want = self.cls if self.to is None else self.to
        z_want = outputs[:, want]
        others = outputs.clone()
        others[:, want] = float("-inf")
        z_other = others.amax(1)
        margin = z_want - z_other if self.to is None else z_other - z_want
        m = target.to(outputs.device).float()
        return (margin.clamp(min=-self.kappa) * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return self.fraction(outputs, target) >= self.theta

    def __repr__(self) -> str:
        return f"RegionGoal(cls={self.cls}, to={self.to}, theta={self.theta:g})"
