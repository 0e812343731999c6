"""Task ground truth that moves with the scene (issue 26).

A goal's target is *ground truth in image coordinates* for three tasks — landmark points, object boxes and
class maps — and a space that moves scene content (rotation, translation, scale, a re-rendered scene) must
move it too, or the goal scores the new image against the old scene: a car translated away from its old
box "vanishes", a rotated face "misses" its old landmarks. Goals declare the kind of their target
(``truth_kind``); spaces say how they carry each kind (:meth:`semadv.spaces.base.Space.truth_mode`) and move
it in :meth:`~semadv.spaces.base.Space.decode_with_truth`; the Attack hands goals the moved truth at every
step and at verification.

Kinds and layouts (coordinates are continuous pixels: pixel ``(i, j)`` covers ``[i, i+1) × [j, j+1)``, its
centre is ``(i + 0.5, j + 0.5)`` — the worlds' convention):

* ``"points"`` — ``(B, K, 2)`` float, (x, y) per point (landmarks, or wanted landmark positions).
* ``"boxes"`` — ``(B, M, 5)`` float rows (x0, y0, x1, y1, class), NaN rows for padding or absent objects.
* ``"mask"`` — ``(B, H, W)`` integer class map.

This module holds the kind-generic geometry; spaces compose it.
"""

from __future__ import annotations

from typing import Any

import kornia
import torch

from semadv.errors import InputError

KINDS = ("points", "boxes", "mask")
#: a moved box keeps its object only while this fraction of its warped area stays inside the image
MIN_VISIBLE = 0.25


def check_truth(truth: torch.Tensor, kind: str, batch: int | None = None) -> torch.Tensor:
    """Validate ``truth`` of ``kind`` (layouts above); returns it unchanged."""
    if kind not in KINDS:
        raise InputError(f"unknown truth kind {kind!r}; known: {', '.join(KINDS)}")
    if not isinstance(truth, torch.Tensor):
        raise InputError(f"{kind} truth must be a tensor; got {type(truth).__name__}")
    shape = tuple(truth.shape)
    ok = {
        "points": truth.dim() == 3 and shape[-1:] == (2,) and truth.is_floating_point(),
        "boxes": truth.dim() == 3 and shape[-1:] == (5,) and truth.is_floating_point(),
        "mask": truth.dim() == 3 and not truth.is_floating_point(),
    }[kind]
    if not ok:
        want = {"points": "(B, K, 2) float", "boxes": "(B, M, 5) float", "mask": "(B, H, W) integer"}[kind]
        raise InputError(f"{kind} truth must be {want}; got {shape} {truth.dtype}")
    if batch is not None and shape[0] != batch:
        raise InputError(f"{kind} truth has {shape[0]} rows for a batch of {batch}")
    return truth


def affine_points(points: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """Points ``(B, K, 2)`` in continuous pixels moved by ``M`` ``(B, 2, 3)``, an affine map between pixel
    *indices* (kornia's ``warp_affine(..., align_corners=True)`` convention): ``p' = M (p − ½) + ½``."""
    c = points - 0.5
    return torch.einsum("bij,bkj->bki", M[:, :, :2].to(points), c) + M[:, None, :, 2].to(points) + 0.5


def affine_boxes(boxes: torch.Tensor, M: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """Boxes ``(B, M, 5)`` moved by ``M``: the axis-aligned hull of the four warped corners, clipped to the
    image; a box with less than :data:`MIN_VISIBLE` of its warped area left in the image becomes a NaN row
    (the object left the frame). Classes and NaN rows are kept."""
    x0, y0, x1, y1 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    corners = torch.stack([torch.stack(p, -1) for p in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))], dim=2)  # (B, M, 4, 2)
    B, Mb = boxes.shape[:2]
    moved = affine_points(corners.reshape(B, Mb * 4, 2), M).reshape(B, Mb, 4, 2)
    lo, hi = moved.amin(2), moved.amax(2)
    area = (hi - lo).clamp(min=0).prod(-1)
    size = torch.tensor([W, H], dtype=boxes.dtype, device=boxes.device)
    clo, chi = lo.clamp(min=0), torch.minimum(hi, size)
    kept_area = (chi - clo).clamp(min=0).prod(-1)
    out = torch.cat([clo, chi, boxes[..., 4:5]], dim=-1)
    gone = ~(kept_area >= MIN_VISIBLE * area.clamp_min(1e-9)) | (kept_area <= 0)
    return torch.where(gone[..., None], torch.full_like(out, float("nan")), out)


def warp_mask(mask: torch.Tensor, M: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Class map ``(B, H, W)`` warped by ``M`` exactly as the image is (nearest neighbour, same padding), so
    every output pixel carries the label of the source pixel its colour came from."""
    H, W = mask.shape[-2:]
    warped = kornia.geometry.transform.warp_affine(
        mask[:, None].to(M.dtype), M, (H, W), mode="nearest", padding_mode=padding_mode, align_corners=True
    )
    return warped[:, 0].round().to(mask.dtype)


def move_affine(truth: torch.Tensor, kind: str, M: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """``truth`` of ``kind`` moved by the affine pixel map ``M`` (B, 2, 3) of an (H, W) image."""
    if kind == "points":
        return affine_points(truth, M)
    if kind == "boxes":
        return affine_boxes(truth, M, H, W)
    return warp_mask(truth, M)


def decode_moving(
    space: Any, goal: Any, z: torch.Tensor, x: torch.Tensor, target: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The image of ``z`` and ``goal``'s target moved with it. A goal whose target holds more than ground
    truth (e.g. :class:`~semadv.goals.pipeline.SameObject`: a box and a recognition target) splits it with
    ``split_truth`` and rejoins it with ``join_truth``; otherwise the whole target is the truth."""
    split = getattr(goal, "split_truth", None)
    if split is None:
        return space.decode_with_truth(z, x, target, kind)  # type: ignore[no-any-return]
    truth, rest = split(target)
    img, moved = space.decode_with_truth(z, x, truth, kind)
    return img, goal.join_truth(moved, rest)
