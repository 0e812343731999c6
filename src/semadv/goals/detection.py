"""Object-detection goal targeting the detector's confidence term (seed 003 §5).

SqueezeDet-style detectors output, per anchor, a confidence that an object is there, class scores and box
deltas; seed 003 attacks the confidence term. The target given at call time is the ground truth of each
scene, (B, M, 5) rows (x0, y0, x1, y1, class) padded with NaN rows. The loss is the mean confidence
σ(c) over the anchors that overlap a ground-truth object (IoU ≥ ``anchor_iou``), so minimising it makes
objects vanish; the goal is *reached* when at least one ground-truth object is no longer detected (no
detection of its class with score ≥ ``score`` and IoU ≥ ``iou``) — the event that lowers recall.
"""

from __future__ import annotations

from typing import Any

import torch

from semadv.errors import InputError
from semadv.registry import register


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix between boxes a (N, 4) and b (M, 4) in (x0, y0, x1, y1)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda t: (t[:, 2:] - t[:, :2]).clamp(min=0).prod(-1)
    return inter / (area(a)[:, None] + area(b)[None, :] - inter).clamp_min(1e-9)


def pad_targets(boxes: list[torch.Tensor], classes: list[torch.Tensor]) -> torch.Tensor:
    """Ground truth per image (lists of (Mᵢ, 4) boxes and (Mᵢ,) classes) → (B, max Mᵢ, 5), NaN-padded."""
    m = max([len(b) for b in boxes] + [1])
    out = torch.full((len(boxes), m, 5), float("nan"))
    for i, (b, c) in enumerate(zip(boxes, classes, strict=True)):
        out[i, : len(b), :4] = b
        out[i, : len(b), 4] = c.float()
    return out


@register("goal", "detection")
class DetectionGoal:
    """Make objects disappear from a SqueezeDet-style detector (``split``, ``decode_boxes``,
    ``anchor_boxes``, ``detect``); outputs are the detector's raw map."""

    #: the target is the scene's objects: spaces that move content move their boxes (semadv.truth); an
    #: object moved out of the frame becomes a NaN row and counts as detected (leaving is not vanishing)
    truth_kind = "boxes"

    def __init__(self, detector: Any, score: float = 0.3, iou: float = 0.5, anchor_iou: float = 0.3) -> None:
        for meth in ("split", "anchor_boxes", "detect"):
            if not callable(getattr(detector, meth, None)):
                raise InputError(f"DetectionGoal needs a SqueezeDet-style detector with {meth}()")
        if not 0 < score < 1 or not 0 < iou <= 1 or not 0 < anchor_iou <= 1:
            raise InputError(f"score, iou, anchor_iou must be in (0, 1]; got {score!r}, {iou!r}, {anchor_iou!r}")
        self.detector, self.score, self.iou, self.anchor_iou = detector, float(score), float(iou), float(anchor_iou)

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None or target.dim() != 3 or target.shape[0] != outputs.shape[0] or target.shape[2] != 5:
            raise InputError(
                f"detection needs ground truth (B, M, 5) = (x0, y0, x1, y1, class) rows; got "
                f"{None if target is None else tuple(target.shape)} for {outputs.shape[0]} outputs"
            )
        if bool((~target[..., 0].isnan()).sum(1).eq(0).any()):
            raise InputError("every scene needs at least one ground-truth object")
        return target

    def _anchor_weights(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        h, w = outputs.shape[-2:]
        a = self.detector.anchor_boxes(h, w).to(outputs)  # (N, 4) centre-size
        ab = torch.cat([a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2], 1)
        weights = []
        for b in range(outputs.shape[0]):
            gt = target[b][~target[b, :, 0].isnan(), :4].to(outputs)
            if len(gt) == 0:  # every object left the frame: nothing to suppress
                weights.append(torch.zeros(len(ab), dtype=outputs.dtype, device=outputs.device))
                continue
            weights.append((_iou(ab, gt).amax(1) >= self.anchor_iou).to(outputs.dtype))
        return torch.stack(weights)

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        conf = torch.sigmoid(self.detector.split(outputs)[0])  # (B, N)
        wts = self._anchor_weights(outputs, target)
        return (conf * wts).sum(1) / wts.sum(1).clamp_min(1)

    def detected(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, M) bool: is each ground-truth object detected (NaN rows count as detected)?"""
        dets = self.detector.detect(outputs.detach(), threshold=self.score)
        out = torch.ones(target.shape[:2], dtype=torch.bool)
        for b, d in enumerate(dets):
            valid = ~target[b, :, 0].isnan()
            gt = target[b, valid]
            if len(d["boxes"]) == 0:
                out[b, valid] = False
                continue
            ok = (_iou(gt[:, :4], d["boxes"].to(gt)) >= self.iou) & (gt[:, 4:5] == d["classes"][None].to(gt))
            out[b, valid] = ok.any(1)
        return out

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return ~self.detected(outputs, target).all(1)

    def __repr__(self) -> str:
        return f"DetectionGoal(score={self.score:g}, iou={self.iou:g})"
