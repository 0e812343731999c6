"""Landmark-detection goals (SemanticAdv, seed 000 §4.3 and Appendix B).

The victim returns landmarks (B, K, 2) in pixels (x, y) — the zoo's heat-map detector does so by a
differentiable soft-argmax, which serves as the heat-map surrogate of Eq. 5's Houdini loss: the loss below
is the task metric itself, computed on the soft-argmax coordinates.

* :class:`LandmarkTargetGoal` — move the landmarks onto given targets ("rotating eyes": the eye landmarks
  rotated 90° counter-clockwise about each eye's centre, :func:`rotate_groups`); loss = NME to the target
  (Eq. 7 with the target's own extent as the normaliser); reached when that NME ≤ ``tol``.
* :class:`OutOfRegionGoal` — push every landmark out of a central box; loss = mean depth of the landmarks
  inside the box (+ margin); reached when all are out (``r_out`` = 1, :func:`out_of_region_ratio`). The box
  is fixed in image coordinates (the paper's definition), so in a geometric space moving the face out of it
  counts; :class:`LandmarkErrorGoal` is the geometry-aware alternative.
* :class:`LandmarkErrorGoal` — untargeted: miss the true landmarks, which move with the scene (issue 26).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from semadv.errors import InputError
from semadv.registry import register


def _check_landmarks(t: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.shape[-1] != 2:
        raise InputError(f"{name} must be landmarks (B, K, 2); got {getattr(t, 'shape', type(t).__name__)}")
    return t


def nme(pred: torch.Tensor, target: torch.Tensor, box: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) normalised mean error, Eq. 7: mean_k ‖p̂_k − p_k‖ / √(W_B·H_B). ``box`` (B, 4) = (x0, y0, x1,
    y1) of the ground-truth face; without it the target landmarks' bounding box is used."""
    _check_landmarks(pred, "pred")
    _check_landmarks(target, "target")
    if box is None:
        lo, hi = target.amin(1), target.amax(1)
        box = torch.cat([lo, hi], dim=1)
    area = ((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])).clamp_min(1e-6)
    return (pred - target.to(pred)).norm(dim=-1).mean(1) / area.sqrt().to(pred)


def rotate_groups(landmarks: torch.Tensor, groups: Sequence[Sequence[int]], degrees: float = 90.0) -> torch.Tensor:
    """Rotate each group of landmarks about its own centre by ``degrees`` counter-clockwise *as seen on
    the image* (y points down, so a point right of the centre moves up). Other landmarks are unchanged."""
    _check_landmarks(landmarks, "landmarks")
    K = landmarks.shape[1]
    out = landmarks.clone()
    a = math.radians(float(degrees))
    ca, sa = math.cos(a), math.sin(a)
    for g in groups:
        idx = list(g)
        if not idx or min(idx) < 0 or max(idx) >= K:
            raise InputError(f"landmark group {idx} out of range for {K} landmarks")
        pts = landmarks[:, idx]
        c = pts.mean(1, keepdim=True)
        d = pts - c
        # visual CCW with y down: (dx, dy) -> (dx cos + dy sin, -dx sin + dy cos)
        rot = torch.stack([d[..., 0] * ca + d[..., 1] * sa, -d[..., 0] * sa + d[..., 1] * ca], dim=-1)
        out[:, idx] = c + rot
    return out


def _inside_depth(pred: torch.Tensor, box: tuple[float, float, float, float]) -> torch.Tensor:
    x0, y0, x1, y1 = box
    x, y = pred[..., 0], pred[..., 1]
    return torch.minimum(torch.minimum(x - x0, x1 - x), torch.minimum(y - y0, y1 - y))


def out_of_region_ratio(pred: torch.Tensor, box: tuple[float, float, float, float]) -> torch.Tensor:
    """(B,) r_out = N_out / N_total: the fraction of landmarks outside ``box`` (Appendix B)."""
    return (_inside_depth(_check_landmarks(pred, "pred"), box) <= 0).float().mean(1)


class _PointsGoal:
    """Shared part of the landmark goals: an NME tolerance and a (B, K, 2) target in image coordinates that
    moves with the scene (semadv.truth)."""

    truth_kind = "points"
    default_tol = 0.02

    def __init__(self, tol: float | None = None) -> None:
        tol = self.default_tol if tol is None else tol
        if not math.isfinite(float(tol)) or float(tol) <= 0:
            raise InputError(f"tol must be a finite NME > 0; got {tol!r}")
        self.tol = float(tol)

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> torch.Tensor:
        if target is None or target.shape != outputs.shape:
            raise InputError(
                f"landmark target must have the outputs' shape {tuple(outputs.shape)}; got "
                f"{None if target is None else tuple(target.shape)}"
            )
        return _check_landmarks(target, "target")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tol={self.tol:g})"


@register("goal", "landmark_target")
class LandmarkTargetGoal(_PointsGoal):
    """Move predicted landmarks onto target landmarks (B, K, 2) given at call time (default ``tol`` 0.02).
    The targets are points drawn on the scene: a space that moves content moves them along."""

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return nme(outputs, target)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return nme(outputs, target) <= self.tol


@register("goal", "landmark_error")
class LandmarkErrorGoal(_PointsGoal):
    """Untargeted landmark attack: make the predictions miss the face's *true* landmarks (B, K, 2), given at
    call time, by NME ≥ ``tol`` (default 0.1; Eq. 7 with the truth's own extent as the normaliser). The truth
    moves with the scene, so rotating, shifting or scaling the whole face is not a success when the detector
    follows it — only a detector that loses the face is (issue 26)."""

    default_tol = 0.1

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return -nme(outputs, target)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        assert target is not None
        return nme(outputs, target) >= self.tol

    def margins(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """(B, 1) NME − tol: ≥ 0 once reached (for boundary searches)."""
        assert target is not None
        return (nme(outputs, target) - self.tol)[:, None]


@register("goal", "out_of_region")
class OutOfRegionGoal:
    """Push all landmarks out of ``box`` = (x0, y0, x1, y1) pixels; no target."""

    def __init__(self, box: Sequence[float], margin: float = 1.0) -> None:
        b = tuple(float(v) for v in box)
        if len(b) != 4 or not (b[0] < b[2] and b[1] < b[3]):
            raise InputError(f"box must be (x0, y0, x1, y1) with x0 < x1 and y0 < y1; got {tuple(box)!r}")
        if float(margin) < 0:
            raise InputError(f"margin must be >= 0; got {margin!r}")
        self.box: tuple[float, float, float, float] = (b[0], b[1], b[2], b[3])
        self.margin = float(margin)

    def check_target(self, target: torch.Tensor | None, outputs: torch.Tensor) -> None:
        if target is not None:  # a target would be silently ignored: say so instead
            raise InputError(f"OutOfRegionGoal takes no target (the region is fixed); got {tuple(target.shape)}")
        _check_landmarks(outputs, "outputs")
        return None

    def loss(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return (_inside_depth(outputs, self.box) + self.margin).clamp(min=0).mean(1)

    def reached(self, outputs: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return out_of_region_ratio(outputs, self.box) >= 1.0

    def __repr__(self) -> str:
        return f"OutOfRegionGoal(box={self.box}, margin={self.margin:g})"
