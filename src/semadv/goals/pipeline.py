"""Goals for detect → crop → recognise pipelines (issue 26 item 3).

Real face systems detect a face, crop it and recognise the crop. Attacked as one black box, such a pipeline
"fails" in a way that is not a semantic success at all: the detector jumps to a false positive (a pattern on
the clothing) and the recogniser, handed the wrong crop, says "someone else". :class:`SameObject` wraps the
recognition goal and counts a success only while the pipeline still looks at the attacked object: the IoU of
its detection with the object's box — moved with the scene (:mod:`semadv.truth`) — is at least ``iou``.

Layouts. The pipeline victim returns ``(B, 4 + …)``: the box it detected and recognised (x0, y0, x1, y1 in
continuous pixels; NaN when it found nothing) followed by the recogniser's outputs. The target is
``(B, 5 + T)`` from :meth:`SameObject.pack`: the attacked object's box row (x0, y0, x1, y1, class) followed
by the inner goal's target (class labels, or a vector such as a reference embedding).
"""

from __future__ import annotations

from typing import Any

import torch

from semadv.errors import InputError
from semadv.goals.detection import _iou
from semadv.registry import register


@register("goal", "same_object")
class SameObject:
    """``inner``'s goal, reached only while the pipeline's detection is the attacked object (IoU ≥ ``iou``).

    Args:
        inner: the recognition goal (e.g. :class:`~semadv.goals.Misclassification`,
            :class:`~semadv.goals.VerificationGoal`) on the recogniser's outputs.
        iou: minimum IoU between the pipeline's detection and the object's (moved) box.
        labels: the inner target is class labels (packed as floats, restored as integers); False for a
            float vector (e.g. a reference embedding).
    """

    #: the box part of the target is the attacked object's ground truth: it moves with the scene
    truth_kind = "boxes"

    def __init__(self, inner: Any, iou: float = 0.5, labels: bool = True) -> None:
        for meth in ("loss", "reached", "check_target"):
            if not callable(getattr(inner, meth, None)):
                raise InputError(f"SameObject needs an inner goal with {meth}(); got {type(inner).__name__}")
        if not 0 < float(iou) <= 1:
            raise InputError(f"iou must be in (0, 1]; got {iou!r}")
        self.inner, self.iou, self.labels = inner, float(iou), bool(labels)

    @staticmethod
    def pack(boxes: torch.Tensor, inner_target: torch.Tensor) -> torch.Tensor:
        """The target: object boxes ``(B, 5)`` (x0, y0, x1, y1, class) and the inner target ``(B,)`` or
        ``(B, T)`` side by side, ``(B, 5 + T)`` float."""
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise InputError(f"object boxes must be (B, 5) = (x0, y0, x1, y1, class); got {tuple(boxes.shape)}")
        t = inner_target.reshape(len(inner_target), -1).to(boxes.dtype if boxes.is_floating_point() else torch.float32)
        if len(t) != len(boxes):
            raise InputError(f"{len(boxes)} boxes but {len(t)} inner targets")
        return torch.cat([boxes.to(t.dtype), t], 1)

    # --- the engine's truth hooks: only the box moves with the scene ---------------------------------------
    def split_truth(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(boxes truth (B, 1, 5), the rest)."""
        return target[:, None, :5], target[:, 5:]

    def join_truth(self, boxes: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
        return torch.cat([boxes[:, 0].to(rest.dtype), rest], 1)

    def _inner_target(self, target: torch.Tensor) -> torch.Tensor:
        t = target[:, 5:]
        return t[:, 0].round().long() if self.labels else t

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None or target.dim() != 2 or target.shape[1] < 6 or len(target) != len(outputs):
            raise InputError(
                "SameObject needs the target SameObject.pack(boxes, inner_target), (B, 5 + T); got "
                f"{None if target is None else tuple(target.shape)} for {len(outputs)} outputs"
            )
        if outputs.dim() != 2 or outputs.shape[1] < 5:
            raise InputError(
                f"a pipeline victim returns (B, 4 + …): box then recogniser outputs; got {tuple(outputs.shape)}"
            )
        if bool(target[:, :4].isnan().any()):
            raise InputError("every sample needs the attacked object's box")
        self.inner.check_target(self._inner_target(target), outputs[:, 4:])
        return target

    def same(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B,) bool: is the pipeline's detection the attacked object (IoU ≥ ``iou``; a moved-out object or
        a missing detection is not)?"""
        det, obj = outputs[:, :4].to(target), target[:, :4]
        iou = torch.stack([_iou(det[i : i + 1], obj[i : i + 1])[0, 0] for i in range(len(det))])
        return torch.nan_to_num(iou, nan=0.0) >= self.iou

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return self.inner.loss(outputs[:, 4:], self._inner_target(target))

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return self.inner.reached(outputs[:, 4:], self._inner_target(target)).bool() & self.same(outputs, target)

    def __repr__(self) -> str:
        return f"SameObject({self.inner!r}, iou={self.iou:g})"
