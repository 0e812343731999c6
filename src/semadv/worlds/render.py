"""Differentiable procedural 2-D renderer: soft signed-distance primitives composited back to front.

Every primitive is a signed distance function (SDF, negative inside) evaluated on a pixel grid; its soft
coverage is ``sigmoid(−d / τ)`` with temperature τ (in image-height units), so images are differentiable
in every continuous parameter (shape, position, angle, colour, light, fog …). Layers are alpha-composited
back to front on a :class:`Canvas`, which can also keep the hard semantic label and instance maps (the
last layer with coverage > 1/2 at a pixel wins — exactly what the pixel shows).

Coordinates: grids are planar ``(N, 2, H, W)`` tensors, ``p[:, 0]`` is x (right) and ``p[:, 1]`` is y
(down), both in units of the image height, so a 64×128 image spans x ∈ [0, 2], y ∈ [0, 1]. Points and
sizes are batched ``(B, 2)`` / ``(B,)``; SDFs and coverages are ``(B, H, W)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_EPS = 1e-9


def pixel_grid(H: int, W: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Pixel-centre coordinates ``(1, 2, H, W)`` (x, y planes) in image-height units."""
    ys = (torch.arange(H, dtype=dtype, device=device) + 0.5) / H
    xs = (torch.arange(W, dtype=dtype, device=device) + 0.5) / H
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=0)[None]


def _pt(t: torch.Tensor) -> torch.Tensor:
    """(B, 2) → (B, 2, 1, 1) to broadcast against a grid."""
    return t.reshape(t.shape[0], 2, 1, 1)


def _sc(t: torch.Tensor | float) -> torch.Tensor | float:
    """(B,) → (B, 1, 1)."""
    return t.reshape(-1, 1, 1) if isinstance(t, torch.Tensor) else t


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]


def _norm(v: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(v[:, 0] * v[:, 0] + v[:, 1] * v[:, 1] + _EPS)


def rotate(p: torch.Tensor, center: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate grid points ``p`` (N, 2, H, W) about ``center`` (B, 2) by ``angle`` (B,) radians.
    Returns ``(B, 2, H, W)``."""
    return _local(p, center, angle) + _pt(center)


def _local(p: torch.Tensor, center: torch.Tensor, angle: torch.Tensor | None) -> torch.Tensor:
    q = p - _pt(center)
    if angle is None:
        return q
    ca, sa = torch.cos(angle).reshape(-1, 1, 1), torch.sin(angle).reshape(-1, 1, 1)
    return torch.stack([ca * q[:, 0] + sa * q[:, 1], -sa * q[:, 0] + ca * q[:, 1]], dim=1)


def sdf_ellipse(
    p: torch.Tensor, center: torch.Tensor, radii: torch.Tensor, angle: torch.Tensor | None = None
) -> torch.Tensor:
    """Ellipse; first-order distance estimate k0(k0 − 1)/k1 with k0 = ‖q/r‖, k1 = ‖q/r²‖ (exact for circles)."""
    q = _local(p, center, angle)
    r = _pt(radii)
    qr = q / r
    k0 = _norm(qr)
    k1 = _norm(qr / r)
    return k0 * (k0 - 1) / k1


def sdf_box(
    p: torch.Tensor,
    center: torch.Tensor,
    half: torch.Tensor,
    radius: torch.Tensor | float = 0.0,
    angle: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rounded box with half-extents ``half`` (B, 2) and corner ``radius`` (B,) or scalar."""
    r = _sc(radius)
    rr = r[:, None] if isinstance(r, torch.Tensor) else r
    q = _local(p, center, angle).abs() - _pt(half) + rr
    outside = _norm(q.clamp_min(0.0)) - math.sqrt(_EPS)
    inside = torch.clamp(torch.maximum(q[:, 0], q[:, 1]), max=0.0)
    return outside + inside - r


def sdf_segment(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor | float) -> torch.Tensor:
    """Capsule (stroke) from ``a`` to ``b`` (B, 2) with half-width ``radius``."""
    pa = p - _pt(a)
    ba = _pt(b - a)
    h = (_dot(pa, ba) / (_dot(ba, ba) + _EPS)).clamp(0.0, 1.0)
    return _norm(pa - ba * h[:, None]) - _sc(radius)


def sdf_polygon(p: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """Convex polygon with vertices (B, N, 2) in either orientation; exact inside, a max-of-half-planes
    bound outside."""
    v0 = verts
    v1 = torch.roll(verts, shifts=-1, dims=1)
    e = v1 - v0  # (B, N, 2)
    area = (v0[..., 0] * v1[..., 1] - v1[..., 0] * v0[..., 1]).sum(dim=1)
    sgn = torch.where(area >= 0, 1.0, -1.0).to(verts.dtype).reshape(-1, 1)
    nx, ny = e[..., 1] * sgn, -e[..., 0] * sgn
    inv = torch.rsqrt(nx * nx + ny * ny + _EPS)
    nx, ny = nx * inv, ny * inv

    def edge(k: int) -> torch.Tensor:  # signed distance to edge line k, (p − v0)·n with outward normal n
        return (p[:, 0] - v0[:, k, 0, None, None]) * nx[:, k, None, None] + (p[:, 1] - v0[:, k, 1, None, None]) * ny[
            :, k, None, None
        ]

    d = edge(0)
    for k in range(1, verts.shape[1]):
        d = torch.maximum(d, edge(k))
    return d


def sdf_bezier(
    p: torch.Tensor,
    p0: torch.Tensor,
    p1: torch.Tensor,
    p2: torch.Tensor,
    radius: torch.Tensor | float,
    segments: int = 8,
) -> torch.Tensor:
    """Quadratic Bézier stroke, as the union of ``segments`` capsules along the curve."""
    ts = [i / segments for i in range(segments + 1)]
    pts = [(1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2 for t in ts]
    d = sdf_segment(p, pts[0], pts[1], radius)
    for i in range(1, segments):
        d = torch.minimum(d, sdf_segment(p, pts[i], pts[i + 1], radius))
    return d


def ring(d: torch.Tensor, half_width: torch.Tensor | float) -> torch.Tensor:
    """Outline of a shape: |d| − half_width."""
    return d.abs() - (_sc(half_width) if isinstance(half_width, torch.Tensor) else half_width)


def coverage(d: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    """Soft coverage ``sigmoid(−d/τ)`` of an SDF (1 inside, 0 outside, smooth at the edge)."""
    return torch.sigmoid(-d / _sc(tau)) if isinstance(tau, torch.Tensor) else torch.sigmoid(-d / tau)


def linear_gradient(
    p: torch.Tensor, start: torch.Tensor, end: torch.Tensor, c0: torch.Tensor, c1: torch.Tensor
) -> torch.Tensor:
    """Colour ramp (B, 3, H, W) from colour ``c0`` at point ``start`` to ``c1`` at ``end`` (all (B, ·))."""
    d = _pt(end - start)
    t = (_dot(p - _pt(start), d) / (_dot(d, d) + _EPS)).clamp(0.0, 1.0)[:, None]
    return c0[:, :, None, None] * (1 - t) + c1[:, :, None, None] * t


def shade(
    p: torch.Tensor, center: torch.Tensor, size: torch.Tensor | float, light: torch.Tensor, intensity: torch.Tensor
) -> torch.Tensor:
    """Simple directional shading factor (B, 1, H, W): 1 − intensity·⟨(p − c)/size, light⟩, clamped ≥ 0.

    ``light`` (B, 2) is the unit direction the light travels in the image plane; surfaces facing it are
    brighter (a cheap Lambert ramp on a dome-shaped primitive)."""
    q = (p - _pt(center)) / (size.reshape(-1, 1, 1, 1) if isinstance(size, torch.Tensor) else size)
    f = 1 - _sc(intensity) * _dot(q, _pt(light))
    return f.clamp_min(0.0)[:, None]


def fog(
    img: torch.Tensor, depth: torch.Tensor, density: torch.Tensor, airlight: torch.Tensor | float = 0.85
) -> torch.Tensor:
    """Atmospheric scattering: I·t + A·(1 − t), t = exp(−density·depth); depth (B|1, H, W)."""
    t = torch.exp(-density.reshape(-1, 1, 1, 1) * depth[:, None])
    A = airlight[:, :, None, None] if isinstance(airlight, torch.Tensor) else airlight
    return img * t + A * (1 - t)


def tint(img: torch.Tensor, brightness: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """Global illumination: multiply by ``brightness`` (B,) and an RGB tint (B, 3)."""
    return img * brightness.reshape(-1, 1, 1, 1) * color[:, :, None, None]


def blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with a fixed σ in pixels (σ ≤ 0 returns the image)."""
    if sigma <= 0:
        return img
    k = max(3, 2 * math.ceil(3 * sigma) + 1)
    x = torch.arange(k, dtype=img.dtype, device=img.device) - k // 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    w = w / w.sum()
    C = img.shape[1]
    out = F.conv2d(
        F.pad(img, (k // 2, k // 2, 0, 0), mode="replicate"), w.reshape(1, 1, 1, k).repeat(C, 1, 1, 1), groups=C
    )
    return F.conv2d(
        F.pad(out, (0, 0, k // 2, k // 2), mode="replicate"), w.reshape(1, 1, k, 1).repeat(C, 1, 1, 1), groups=C
    )


class Canvas:
    """Back-to-front alpha compositor with optional hard label / instance maps.

    ``paint(alpha, color, label, instance)`` blends ``color`` (B, 3) or (B, 3, H, W) with coverage ``alpha``
    (B, H, W); the label map takes ``label`` wherever ``alpha > 0.5`` (later layers win).
    """

    def __init__(self, background: torch.Tensor, track_labels: bool = False) -> None:
        self.img = background
        B, _, H, W = background.shape
        self.labels = torch.zeros(B, H, W, dtype=torch.int64, device=background.device) if track_labels else None
        self.instances = (
            torch.full((B, H, W), -1, dtype=torch.int64, device=background.device) if track_labels else None
        )

    def paint(
        self,
        alpha: torch.Tensor,
        color: torch.Tensor,
        label: int | torch.Tensor | None = None,
        instance: int | None = None,
    ) -> None:
        a = alpha[:, None]
        col = color[:, :, None, None] if color.dim() == 2 else color
        self.img = self.img + a * (col - self.img)
        if self.labels is not None and label is not None:
            hard = alpha.detach() > 0.5
            self.labels = torch.where(
                hard,
                torch.as_tensor(label, device=hard.device).reshape(-1, 1, 1)
                if isinstance(label, torch.Tensor)
                else label,
                self.labels,
            )
            if self.instances is not None:
                self.instances = torch.where(hard, -1 if instance is None else instance, self.instances)
