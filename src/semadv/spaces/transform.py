"""TransformSpace: named, bounded, differentiable photometric and geometric transforms (kornia).

As in 3DB (Leclerc et al. 2021), every parameter is declared with a name and a range; in the config a
scalar fixes a parameter and a ``(lo, hi)`` pair searches it. Parameters not mentioned stay at identity.
Searches see only the searched parameters, stacked in :data:`PARAMS` order as ``z`` of shape ``(B, K)``;
the metric is L∞ in unit-cube coordinates, so a PGD step ``α = 0.1`` moves each parameter by 10% of its
range (seed 003 §3 uses per-parameter step sizes in normalised units in the same way).

Application order: brightness, contrast, saturation, hue, gamma (photometric) → rotation, scale,
translation (one affine warp) → Gaussian blur → fog → clamp to [0, 1].

Fog is not a kornia op; it is composed from kornia pieces as the atmospheric scattering model
``I' = I·t + A·(1 − t)``, ``t = exp(−density · depth)``, with a depth ramp from the bottom (near, 0) to
the top (far, 1) of the image built with ``kornia.geometry.create_meshgrid`` and airlight A = 0.85.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import kornia
import torch

from semadv.constraints import Box
from semadv.errors import ConstraintError, IncompatibleError, InputError
from semadv.registry import register
from semadv.spaces.base import Space
from semadv.truth import check_truth, move_affine

FOG_AIRLIGHT = 0.85
GAMMA_FLOOR = 1e-4  # pow(0, γ) has an infinite derivative in γ; pixels are floored before the gamma curve


@dataclass(frozen=True)
class ParamSpec:
    """A transform parameter: its identity value, hard limits and unit."""

    name: str
    identity: float
    lo: float
    hi: float
    unit: str
    rgb_only: bool = False


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("brightness", 0.0, -1.0, 1.0, "additive offset"),
    ParamSpec("contrast", 1.0, 0.0, 4.0, "factor"),
    ParamSpec("saturation", 1.0, 0.0, 4.0, "factor", rgb_only=True),
    ParamSpec("hue", 0.0, -math.pi, math.pi, "radians", rgb_only=True),
    ParamSpec("gamma", 1.0, 0.1, 10.0, "exponent"),
    ParamSpec("rotation", 0.0, -180.0, 180.0, "degrees"),
    ParamSpec("scale", 1.0, 0.1, 10.0, "factor"),
    ParamSpec("translate_x", 0.0, -1.0, 1.0, "fraction of width"),
    ParamSpec("translate_y", 0.0, -1.0, 1.0, "fraction of height"),
    ParamSpec("blur", 0.0, 0.0, 10.0, "Gaussian sigma, pixels"),
    ParamSpec("fog", 0.0, 0.0, 10.0, "density"),
)
SPECS: dict[str, ParamSpec] = {s.name: s for s in PARAMS}


def _fog(img: torch.Tensor, density: torch.Tensor) -> torch.Tensor:
    H, W = img.shape[-2:]
    grid = kornia.geometry.create_meshgrid(H, W, normalized_coordinates=True, device=img.device, dtype=img.dtype)
    depth = (1 - grid[..., 1]) / 2  # (1, H, W): 1 at the top row (far), 0 at the bottom (near)
    t = torch.exp(-density.reshape(-1, 1, 1, 1) * depth.unsqueeze(1))
    return img * t + FOG_AIRLIGHT * (1 - t)


GEOMETRIC = ("rotation", "scale", "translate_x", "translate_y")


def affine_matrix(p: Mapping[str, torch.Tensor], B: int, H: int, W: int, like: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) pixel-index affine map of rotation (degrees, about the image centre), scale and translation
    (fractions of the side): the one warp the image and its ground truth both go through."""
    center = torch.tensor([(W - 1) / 2, (H - 1) / 2], dtype=like.dtype, device=like.device).expand(B, 2)
    s = p["scale"].reshape(B, 1).expand(B, 2)
    M = kornia.geometry.transform.get_rotation_matrix2d(center, p["rotation"].reshape(B), s)
    shift = torch.stack([p["translate_x"].reshape(B) * W, p["translate_y"].reshape(B) * H], dim=1)
    return torch.cat([M[:, :, :2], M[:, :, 2:] + shift.unsqueeze(-1)], dim=2)


def _affine(img: torch.Tensor, p: Mapping[str, torch.Tensor]) -> torch.Tensor:
    B, _, H, W = img.shape
    M = affine_matrix(p, B, H, W, img)
    return kornia.geometry.transform.warp_affine(img, M, (H, W), padding_mode="border", align_corners=True)


def _param_or_identity(params: Mapping[str, torch.Tensor], k: str, B: int, like: torch.Tensor) -> torch.Tensor:
    return params[k] if k in params else torch.full((B,), SPECS[k].identity, dtype=like.dtype, device=like.device)


def apply_transforms(img: torch.Tensor, params: Mapping[str, torch.Tensor], blur_kernel: int = 0) -> torch.Tensor:
    """Apply the named transforms (each a ``(B,)`` tensor) to ``img`` (B, C, H, W); missing → identity.

    Pure function, differentiable in every parameter; the ``nn``-free twin of :class:`TransformSpace`.
    """

    B = img.shape[0]
    for k in params:
        if k not in SPECS:
            raise InputError(f"unknown transform parameter {k!r}; known: {', '.join(SPECS)}")
    get: Callable[[str], torch.Tensor] = lambda k: _param_or_identity(params, k, B, img)
    out = img
    if "brightness" in params:
        out = kornia.enhance.adjust_brightness(out, params["brightness"], clip_output=True)
    if "contrast" in params:
        out = kornia.enhance.adjust_contrast(out, params["contrast"], clip_output=True)
    if "saturation" in params or "hue" in params:
        if out.shape[1] != 3:
            raise IncompatibleError(f"saturation/hue need RGB images; got {out.shape[1]} channel(s)")
        if "saturation" in params:
            out = kornia.enhance.adjust_saturation(out, params["saturation"])
        if "hue" in params:
            out = kornia.enhance.adjust_hue(out, params["hue"])
    if "gamma" in params:
        out = kornia.enhance.adjust_gamma(out.clamp_min(GAMMA_FLOOR), params["gamma"])
    if any(k in params for k in GEOMETRIC):
        out = _affine(out, {k: get(k) for k in GEOMETRIC})
    if "blur" in params:
        ksize = blur_kernel or 2 * math.ceil(3 * float(params["blur"].detach().max())) + 1
        limit = 2 * min(out.shape[-2:]) - 1  # reflect padding needs kernel//2 < image side
        ksize = max(3, min(ksize, limit if limit % 2 else limit - 1))
        sigma = params["blur"].clamp_min(1e-2).reshape(B, 1).expand(B, 2)
        out = kornia.filters.gaussian_blur2d(out, (ksize, ksize), sigma, border_type="reflect")
    if "fog" in params:
        out = _fog(out, params["fog"])
    return out.clamp(0.0, 1.0)


@register("space", "transform")
class TransformSpace(Space):
    """Photometric + geometric transforms with named bounded parameters (kornia; 3DB-style config).

    Example: ``TransformSpace(rotation=(-20, 20), brightness=(-0.2, 0.2), blur=1.0)`` searches rotation
    and brightness and applies a fixed blur of σ = 1.
    """

    def __init__(self, **params: float | tuple[float, float]) -> None:
        if not params:
            raise InputError(f"TransformSpace needs at least one parameter; known: {', '.join(SPECS)}")
        self.fixed: dict[str, float] = {}
        self.searched: dict[str, tuple[float, float]] = {}
        for name, val in params.items():
            if name not in SPECS:
                raise InputError(f"unknown transform parameter {name!r}; known: {', '.join(SPECS)}")
            spec = SPECS[name]
            if isinstance(val, (tuple, list)):
                if len(val) != 2:
                    raise ConstraintError(f"range for {name!r} must be (lo, hi); got {val!r}")
                lo, hi = float(val[0]), float(val[1])
                if not (spec.lo <= lo < hi <= spec.hi):
                    raise ConstraintError(
                        f"range for {name!r} must satisfy {spec.lo} <= lo < hi <= {spec.hi}; got {val!r}"
                    )
                self.searched[name] = (lo, hi)
            else:
                v = float(val)
                if not (spec.lo <= v <= spec.hi):
                    raise ConstraintError(f"{name!r} must lie in [{spec.lo}, {spec.hi}]; got {val!r}")
                self.fixed[name] = v
        if not self.searched:
            raise InputError("TransformSpace has no searched parameter: give at least one (lo, hi) range")
        self.names = tuple(s.name for s in PARAMS if s.name in self.searched)
        lo_t = torch.tensor([self.searched[n][0] for n in self.names], dtype=torch.float64)
        hi_t = torch.tensor([self.searched[n][1] for n in self.names], dtype=torch.float64)
        ident = torch.tensor([SPECS[n].identity for n in self.names], dtype=torch.float64)
        self.identity = ident.clamp(lo_t, hi_t)
        blur_max = self.searched.get("blur", (0.0, self.fixed.get("blur", 0.0)))[1]
        self.blur_kernel = max(3, 2 * math.ceil(3 * blur_max) + 1)
        super().__init__(Box(lo_t, hi_t))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.identity.to(device=x.device, dtype=x.dtype).expand(x.shape[0], -1).clone()

    def params(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named ``(B,)`` parameter tensors (searched from ``z``, fixed ones broadcast)."""
        if z.dim() != 2 or z.shape[1] != len(self.names):
            raise InputError(f"z must have shape (B, {len(self.names)}) for {self.names}; got {tuple(z.shape)}")
        out = {n: z[:, i] for i, n in enumerate(self.names)}
        for n, v in self.fixed.items():
            out[n] = torch.full((z.shape[0],), v, dtype=z.dtype, device=z.device)
        return out

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return apply_transforms(x, self.params(z.to(x.dtype)), self.blur_kernel)

    def truth_mode(self, kind: str) -> str:
        """``"moved"`` when a geometric parameter is searched or fixed, else ``"fixed"`` (photometric
        transforms, blur and fog leave every point where it is)."""
        return "moved" if any(k in self.searched or k in self.fixed for k in GEOMETRIC) else "fixed"

    def decode_with_truth(
        self, z: torch.Tensor, x: torch.Tensor, truth: torch.Tensor, kind: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The image and ``truth`` warped by the same affine map (points and box corners exactly, class maps
        by nearest neighbour with the image's border padding); boxes that leave the frame become NaN rows."""
        img = self.decode(z, x)
        if self.truth_mode(kind) == "fixed":
            return img, truth
        p = self.params(z.to(x.dtype))
        B, _, H, W = x.shape
        M = affine_matrix({k: _param_or_identity(p, k, B, x) for k in GEOMETRIC}, B, H, W, x)
        return img, move_affine(check_truth(truth, kind, B), kind, M, H, W)

    def bounds(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = self.constraint.lo, self.constraint.hi  # type: ignore[attr-defined]
        return lo.to(z0).expand_as(z0), hi.to(z0).expand_as(z0)

    def __repr__(self) -> str:
        return f"TransformSpace(searched={self.searched}, fixed={self.fixed})"
