"""Interpolation spaces of an attribute-conditional editor (SemanticAdv, seed 000 §3.1).

Given an editor ``G = G_dec ∘ G_enc`` and, per sample, the source attributes ``c`` and the edited ones
``c_new``:

* :class:`FeatureInterpolationSpace` — Eq. 2: ``x_adv = G_dec(α ⊙ f_src + (1 − α) ⊙ f_new)`` with ``α`` a
  tensor of the feature map's shape, ``f_src = G_enc(x′, c)`` and ``f_new = G_enc(x′, c_new)``. The same
  space interpolates any encoder/decoder split, e.g. a layout-conditioned generator whose decoder also
  reads the (manipulated) layout (seed 000 §4.4): ``decoder(f*, extra)``.
* :class:`AttributeInterpolationSpace` — Eq. 1: ``x_adv = G(x′, α·c + (1 − α)·c_new)`` with one scalar
  ``α`` per sample.

Both are box-constrained: ``α ∈ [lo, hi]``. The paper states ``α ∈ (0, 1)``; its released code starts at
weight 0.8 on the *edited* features and keeps it in [0.6, 1] (α ∈ [0, 0.4] here), which keeps the
adversarial image close to the edit — both are configurable.

The source ``x`` a search sees is a flat per-sample tensor packing what ``decode`` needs (feature pairs and
an optional extra tensor, or the refined image and both attribute vectors); build it with ``pack``.
:func:`refine_reconstruction` is the §4.1 refinement ``x′ = argmin ‖G(x′, c) − x‖`` run before encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod

import torch

from semadv.checks import check_images, check_int, check_positive
from semadv.constraints import Box
from semadv.errors import InputError
from semadv.registry import register
from semadv.spaces.base import Space


def _alpha_box(fn: object, what: str, alpha_range: tuple[float, float], init: float) -> Box:
    """Validate the callable and α's box / start shared by both interpolation spaces."""
    if not callable(fn):
        raise InputError(f"{what} must be callable; got {type(fn).__name__}")
    lo, hi = float(alpha_range[0]), float(alpha_range[1])
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"alpha range must satisfy 0 <= lo < hi <= 1; got lo={lo!r}, hi={hi!r}")
    if not lo <= float(init) <= hi:
        raise InputError(f"alpha_init must lie in [{lo}, {hi}]; got {init!r}")
    return Box(lo, hi)


def _split(x: torch.Tensor, shapes: Sequence[tuple[int, ...]], name: str) -> list[torch.Tensor]:
    sizes = [prod(s) for s in shapes]
    if x.dim() != 2 or x.shape[1] != sum(sizes):
        raise InputError(
            f"{name} source must be a packed (B, {sum(sizes)}) tensor (use {name}.pack); got {tuple(x.shape)}"
        )
    return [p.reshape(x.shape[0], *s) for p, s in zip(x.split(sizes, dim=1), shapes, strict=True)]


@register("space", "feature_interpolation")
class FeatureInterpolationSpace(Space):
    """SemanticAdv feature-map interpolation (seed 000 Eq. 2): ``z = α`` of the feature map's shape.

    Args:
        decoder: ``decoder(f, extra)`` → image (B, C, H, W) in [0, 1]; ``extra`` is the per-sample tensor
            given to :meth:`pack` (None when none was packed), e.g. the manipulated layout of a SPADE-style
            decoder.
        feature_shape: (C_F, H_F, W_F) of the interpolated feature map.
        extra_shape: per-sample shape of ``extra`` (omit when the decoder needs none).
        alpha_range: box for every αᵢ (weight of the *source* features).
        alpha_init: start value of every αᵢ.
        truth: ``"fixed"`` declares that the images keep task ground truth (landmarks, boxes, class maps) where
            the source has it, so goals scoring ground truth may run here; ``None`` (default): unknown, they
            are refused (a learned generator may move content; semadv.truth).
    """

    source = "packed"

    def __init__(
        self,
        decoder: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
        feature_shape: Sequence[int],
        extra_shape: Sequence[int] | None = None,
        alpha_range: tuple[float, float] = (0.0, 0.4),
        alpha_init: float = 0.2,
        truth: str | None = None,
    ) -> None:
        box = _alpha_box(decoder, "decoder", alpha_range, alpha_init)
        self.feature_shape = tuple(check_int(int(s), "feature_shape") for s in feature_shape)
        self.extra_shape = None if extra_shape is None else tuple(int(s) for s in extra_shape)
        self.decoder, self.alpha_init = decoder, float(alpha_init)
        super().__init__(box)
        self._declare_truth(truth)

    @property
    def _shapes(self) -> list[tuple[int, ...]]:
        s = [self.feature_shape, self.feature_shape]
        return s + ([self.extra_shape] if self.extra_shape is not None else [])

    def pack(self, f_src: torch.Tensor, f_new: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """The search's source: ``f_src = G_enc(x′, c)``, ``f_new = G_enc(x′, c_new)`` (B, *feature_shape)."""
        if f_src.shape != f_new.shape or tuple(f_src.shape[1:]) != self.feature_shape:
            raise InputError(
                f"feature maps must both be (B, {', '.join(map(str, self.feature_shape))}); got "
                f"{tuple(f_src.shape)} and {tuple(f_new.shape)}"
            )
        parts = [f_src.detach().flatten(1), f_new.detach().flatten(1)]
        if (extra is None) != (self.extra_shape is None):
            raise InputError(f"extra must be given iff extra_shape is set (extra_shape={self.extra_shape})")
        if extra is not None:
            if tuple(extra.shape[1:]) != self.extra_shape or extra.shape[0] != f_src.shape[0]:
                raise InputError(f"extra must be (B, *{self.extra_shape}); got {tuple(extra.shape)}")
            parts.append(extra.detach().to(f_src.dtype).flatten(1))
        return torch.cat(parts, dim=1)

    def unpack(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        parts = _split(x, self._shapes, type(self).__name__)
        return parts[0], parts[1], parts[2] if len(parts) == 3 else None

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        self.unpack(x)
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], *self.feature_shape), self.alpha_init, dtype=x.dtype, device=x.device)

    def interpolate(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """f* = α ⊙ f_src + (1 − α) ⊙ f_new (Eq. 2)."""
        f_src, f_new, _ = self.unpack(x)
        return z * f_src + (1 - z) * f_new

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        extra = self.unpack(x)[2]
        return self.decoder(self.interpolate(z, x), extra)


@register("space", "attribute_interpolation")
class AttributeInterpolationSpace(Space):
    """SemanticAdv attribute-space interpolation (seed 000 Eq. 1): ``z = α`` (B, 1),
    ``x_adv = G(x′, α·c + (1 − α)·c_new)``.

    Args:
        generator: ``G(image, c)`` → image.
        image_shape: (C, H, W) of the (refined) source image. n_attributes: length of ``c``.
        alpha_range, alpha_init, truth: as in :class:`FeatureInterpolationSpace`.
    """

    source = "packed"

    def __init__(
        self,
        generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        image_shape: Sequence[int],
        n_attributes: int,
        alpha_range: tuple[float, float] = (0.0, 0.4),
        alpha_init: float = 0.2,
        truth: str | None = None,
    ) -> None:
        box = _alpha_box(generator, "generator", alpha_range, alpha_init)
        self.generator, self.alpha_init = generator, float(alpha_init)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.n_attributes = check_int(n_attributes, "n_attributes")
        super().__init__(box)
        self._declare_truth(truth)

    @property
    def _shapes(self) -> list[tuple[int, ...]]:
        return [self.image_shape, (self.n_attributes,), (self.n_attributes,)]

    def pack(self, image: torch.Tensor, c: torch.Tensor, c_new: torch.Tensor) -> torch.Tensor:
        check_images(image, "image")
        if c.shape != c_new.shape or c.shape != (image.shape[0], self.n_attributes):
            raise InputError(
                f"c and c_new must both be (B, {self.n_attributes}); got {tuple(c.shape)} and {tuple(c_new.shape)}"
            )
        return torch.cat([image.detach().flatten(1), c.to(image.dtype), c_new.to(image.dtype)], dim=1)

    def check_source(self, x: torch.Tensor) -> torch.Tensor:
        _split(x, self._shapes, type(self).__name__)
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1), self.alpha_init, dtype=x.dtype, device=x.device)

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        image, c, c_new = _split(x, self._shapes, type(self).__name__)
        return self.generator(image, z * c + (1 - z) * c_new)


def refine_reconstruction(
    generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    c: torch.Tensor,
    steps: int = 100,
    lr: float = 0.01,
) -> torch.Tensor:
    """§4.1's refinement: ``x′ = argmin_{x′} ‖G(x′, c) − x‖₂²`` by Adam from ``x′ = x`` (kept in [0, 1]),
    so that ``G(x′, c)`` reconstructs ``x`` better than ``G(x, c)`` does. ``steps = 0`` returns ``x``."""
    check_images(x, "x")
    if int(steps) < 0:
        raise InputError(f"steps must be >= 0; got {steps!r}")
    check_positive(lr, "lr")
    xp = x.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([xp], lr=lr)
    for _ in range(int(steps)):
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            ((generator(xp, c) - x) ** 2).flatten(1).sum(1).sum().backward()
        opt.step()
        with torch.no_grad():
            xp.clamp_(0, 1)
    return xp.detach()
