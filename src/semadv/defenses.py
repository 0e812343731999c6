"""Input-transformation defenses as differentiable image maps, and a victim seen through one.

Feature squeezing (Xu et al. 2017: bit-depth reduction, median filter), Gaussian blur (Li & Li 2017) and JPEG
(Dziugaite et al. 2016; Pillow's codec for non-adaptive evaluation, kornia's differentiable JPEG for adaptive
attacks). Rounding has a straight-through gradient (BPDA, Athalye et al. 2018), so every map can sit inside
an attack: ``Defended(victim, defense)`` is an ordinary victim. Used by the Type I (seed 001 §IV-C) and
SemanticAdv (seed 000 Fig. 5) recipes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def bit_depth(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Round to ``bits`` per channel (values exact; gradient straight through)."""
    levels = 2**bits - 1
    q = torch.round(x * levels) / levels
    return x + (q - x).detach()


def median_filter(x: torch.Tensor, k: int) -> torch.Tensor:
    """k×k median filter (reflect padding; even k pads right/bottom, as scipy's median_filter does)."""
    lo, hi = (k - 1) // 2, k // 2
    p = F.pad(x, (lo, hi, lo, hi), mode="reflect")
    win = p.unfold(2, k, 1).unfold(3, k, 1)
    return win.reshape(*win.shape[:4], -1).median(dim=-1).values


def gaussian_blur(x: torch.Tensor, kernel: int = 3, sigma: float = 1.0) -> torch.Tensor:
    """kernel×kernel Gaussian blur (default 3×3, σ = 1)."""
    import kornia

    return kornia.filters.gaussian_blur2d(x, (kernel, kernel), (sigma, sigma))


def jpeg_differentiable(x: torch.Tensor, quality: float = 75.0) -> torch.Tensor:
    """kornia's differentiable JPEG (for adaptive attacks); H and W must be multiples of 16."""
    import kornia

    return kornia.enhance.jpeg_codec_differentiable(x, torch.tensor([quality])).clamp(0, 1)


def jpeg_codec(x: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """A real JPEG round trip through Pillow (non-adaptive evaluation; no gradient)."""
    from PIL import Image

    outs = []
    for img in x.detach().clamp(0, 1):
        arr = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        back = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255
        outs.append(torch.from_numpy(back).permute(2, 0, 1))
    return torch.stack(outs).to(x)


class Defended(nn.Module):
    """The victim behind a defense: ``victim(defense(x))``."""

    def __init__(self, victim: Callable[[torch.Tensor], torch.Tensor], defense: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.victim, self.defense = victim, defense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.victim(self.defense(x))
