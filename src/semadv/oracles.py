"""Validity oracles that work on *any* image: world inversion and the verdicts built on it.

Every seed method claims its examples are semantic — identity kept (seeds 000, 002), class changed
(seed 001), layout kept (seed 004). Our worlds are differentiable renderers with exact parameters, so a
claim about an image can be checked by reading the world's parameters back out of it:

1. **Amortised inversion** — the zoo regressor ``face-inverse`` predicts all scene parameters from the image.
2. **Analysis by synthesis** — Adam on the parameters (through a sigmoid onto their ranges) minimising the
   squared error between the world's render and the image, batched, from the regressor's guess
   (the "render-and-compare" inverse graphics of Kulkarni et al., 2015, Yildirim et al., 2020).
3. **Confidence** — a Laplace approximation: the residual variance σ² over the Gauss–Newton curvature
   Σ_pixels (∂render/∂pᵢ)² gives a standard deviation per parameter (normalised units); a parameter the
   image does not show (an ear under long hair) has a large one.

Verdicts (:func:`identity_kept`, :func:`attribute_changed`, :func:`attributes_kept`, :func:`class_changed`,
:func:`layout_kept`) are batched and return ``(B,)`` bools. Their error rates on world renders and on the
zoo generators' outputs are measured by ``semadv oracle audit`` (:func:`audit`) and written to
``docs/results/oracles.md``; the identity threshold is calibrated there and stored in ``face-inverse``'s card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from semadv.checks import check_images
from semadv.errors import InputError
from semadv.worlds.faces import ATTRIBUTES, BINARY, N_ID, FacesWorld

log = logging.getLogger(__name__)

__all__ = [
    "FaceInverter",
    "Inversion",
    "attribute_changed",
    "attributes_kept",
    "class_changed",
    "identity_distance",
    "identity_kept",
    "inversion_errors",
    "layout_kept",
]


@dataclass(frozen=True)
class Inversion:
    """Parameters recovered from images.

    Attributes:
        params: (B, 32) world parameters (physical units, inside their ranges).
        normalised: (B, 32) the same in [0, 1] by the parameter ranges.
        residual: (B,) RMSE between the re-render and the image.
        std: (B, 32) Laplace standard deviation per parameter (normalised units); large = the image does not
            determine the parameter.
    """

    params: torch.Tensor
    normalised: torch.Tensor
    residual: torch.Tensor
    std: torch.Tensor

    @property
    def identity(self) -> torch.Tensor:
        return self.normalised[:, :N_ID]

    def roll(self, shifts: int) -> Inversion:
        """Rows rolled along the batch (pairs each inversion with another image's)."""
        return Inversion(*(getattr(self, f).roll(shifts, 0) for f in ("params", "normalised", "residual", "std")))

    def __getitem__(self, idx: Any) -> Inversion:
        return Inversion(self.params[idx], self.normalised[idx], self.residual[idx], self.std[idx])


def _check_faces(images: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != (3, 64, 64):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"{name} must be face images of shape (B, 3, 64, 64); got {shape}")
    return check_images(images.detach().float(), name)


class FaceInverter:
    """Inverse renderer of the faces world: regressor + analysis-by-synthesis refinement.

    Args:
        regressor: image → normalised parameters (default: the zoo's ``face-inverse``).
        steps: Adam steps of the refinement (0: the regressor alone).
        lr: Adam learning rate on the parameters' logits.
        batch: images refined together.
    """

    def __init__(self, regressor: nn.Module | None = None, steps: int = 60, lr: float = 0.05, batch: int = 64):
        if regressor is None:
            from semadv.zoo import cached

            regressor = cached("face-inverse")
        if int(steps) < 0 or not lr > 0 or int(batch) < 1:
            raise InputError(f"steps >= 0, lr > 0, batch >= 1 required; got {steps}, {lr}, {batch}")
        self.regressor, self.steps, self.lr, self.batch = regressor, int(steps), float(lr), int(batch)
        self.world = FacesWorld()

    def _render(self, u: torch.Tensor) -> torch.Tensor:
        w = self.world
        return w.render(w.lo + (w.hi - w.lo) * u).image

    def __call__(self, images: torch.Tensor) -> Inversion:
        x = _check_faces(images, "images")
        parts = [self._invert(x[i : i + self.batch]) for i in range(0, len(x), self.batch)]
        return Inversion(
            *(torch.cat([getattr(p, f) for p in parts]) for f in ("params", "normalised", "residual", "std"))
        )

    def _invert(self, x: torch.Tensor) -> Inversion:
        with torch.no_grad():
            u0 = self.regressor(x).clamp(1e-3, 1 - 1e-3)
        logit = torch.logit(u0).requires_grad_(True)
        if self.steps:
            opt = torch.optim.Adam([logit], lr=self.lr)
            with torch.enable_grad():
                for _ in range(self.steps):
                    opt.zero_grad(set_to_none=True)
                    loss = (self._render(torch.sigmoid(logit)) - x).pow(2).flatten(1).mean(1)
                    loss.sum().backward()
                    opt.step()
        with torch.no_grad():
            u = torch.sigmoid(logit)
            img = self._render(u)
            mse = (img - x).pow(2).flatten(1).mean(1)
            # Gauss–Newton curvature per parameter by central differences in normalised units
            h = 0.02
            curv = []
            for i in range(u.shape[1]):
                e = torch.zeros_like(u)
                e[:, i] = h
                d = (self._render((u + e).clamp(0, 1)) - self._render((u - e).clamp(0, 1))) / (2 * h)
                curv.append(d.pow(2).flatten(1).mean(1))
            fisher = torch.stack(curv, 1) / mse.clamp_min(1e-5)[:, None]
            std = fisher.clamp_min(1e-8).rsqrt() / x[0].numel() ** 0.5
        w = self.world
        return Inversion(w.lo + (w.hi - w.lo) * u, u, mse.sqrt(), std)


# ----- verdicts -------------------------------------------------------------------------------------------
def identity_distance(a: Inversion, b: Inversion) -> torch.Tensor:
    """(B,) confidence-weighted mean absolute difference of the identity parameters (normalised units).

    Each parameter weighs 1 / (std_a² + std_b² + 0.05²): a parameter that either image hides counts less."""
    if a.params.shape != b.params.shape:
        raise InputError(f"inversions differ in shape: {tuple(a.params.shape)} vs {tuple(b.params.shape)}")
    w = 1.0 / (a.std[:, :N_ID] ** 2 + b.std[:, :N_ID] ** 2 + 0.05**2)
    return ((a.identity - b.identity).abs() * w).sum(1) / w.sum(1)


def _threshold() -> float:
    from semadv.zoo import card

    met = card("face-inverse").metrics
    if "identity_threshold" not in met:
        raise InputError("face-inverse's card has no identity_threshold; run `semadv oracle audit`")
    return float(met["identity_threshold"])


def _inv(x: torch.Tensor | Inversion, inverter: FaceInverter | None, name: str) -> Inversion:
    if isinstance(x, Inversion):
        return x
    return (inverter or FaceInverter())(_check_faces(x, name))


def identity_kept(
    x_src: torch.Tensor | Inversion,
    x_adv: torch.Tensor | Inversion,
    *,
    inverter: FaceInverter | None = None,
    threshold: float | None = None,
) -> torch.Tensor:
    """(B,) do ``x_adv`` and ``x_src`` show the same identity, by the recovered identity parameters?"""
    a, b = _inv(x_src, inverter, "x_src"), _inv(x_adv, inverter, "x_adv")
    if len(a.params) != len(b.params):
        raise InputError(f"x_src and x_adv must have the same batch; got {len(a.params)} and {len(b.params)}")
    return identity_distance(a, b) <= (_threshold() if threshold is None else float(threshold))


def _attr_cols(names: list[str]) -> list[int]:
    known = [p.name for p in ATTRIBUTES]
    out = []
    for n in names:
        pname = BINARY[n][0] if n in BINARY else n
        if pname not in known:
            raise InputError(f"unknown face attribute {n!r}; known: {', '.join(known + list(BINARY))}")
        out.append(N_ID + known.index(pname))
    return out


def attribute_changed(
    x_src: torch.Tensor | Inversion,
    x_adv: torch.Tensor | Inversion,
    attribute: str,
    *,
    min_change: float = 0.25,
    inverter: FaceInverter | None = None,
) -> torch.Tensor:
    """(B,) did ``attribute`` (a world parameter or a :data:`~semadv.worlds.faces.BINARY` label) change?

    A binary label counts as changed when its recovered label flips; a parameter when its recovered value
    moved by ≥ ``min_change`` of its range."""
    a, b = _inv(x_src, inverter, "x_src"), _inv(x_adv, inverter, "x_adv")
    w = FacesWorld()
    if attribute in BINARY:
        col = list(BINARY).index(attribute)
        return w.binary_attributes(a.params)[:, col] != w.binary_attributes(b.params)[:, col]
    (c,) = _attr_cols([attribute])
    return (a.normalised[:, c] - b.normalised[:, c]).abs() >= min_change


def attributes_kept(
    x_src: torch.Tensor | Inversion,
    x_adv: torch.Tensor | Inversion,
    *,
    except_: list[str] | tuple[str, ...] = (),
    tolerance: float = 0.25,
    inverter: FaceInverter | None = None,
) -> torch.Tensor:
    """(B,) are all attributes but ``except_`` within ``tolerance`` (normalised units) of the source's?"""
    a, b = _inv(x_src, inverter, "x_src"), _inv(x_adv, inverter, "x_adv")
    skip = set(_attr_cols(list(except_)))
    cols = [c for c in range(N_ID, a.params.shape[1]) if c not in skip]
    return ((a.normalised[:, cols] - b.normalised[:, cols]).abs() <= tolerance).all(1)


def class_changed(x_src: torch.Tensor, x_adv: torch.Tensor, judge: nn.Module) -> torch.Tensor:
    """(B,) does an independent ``judge`` classifier read a different class in ``x_adv`` than in ``x_src``?"""
    a, b = check_images(x_src, "x_src"), check_images(x_adv, "x_adv")
    if a.shape != b.shape:
        raise InputError(f"x_src and x_adv differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    with torch.no_grad():
        return judge(a).argmax(1) != judge(b).argmax(1)


def layout_kept(
    x_adv: torch.Tensor, layout: torch.Tensor, *, segmenter: nn.Module | None = None, min_agreement: float = 0.8
) -> torch.Tensor:
    """(B,) does the layout read from ``x_adv`` agree with the conditioning ``layout`` (B, H, W) on at least
    ``min_agreement`` of the pixels? The layout is recovered by the independent ``streets-judge`` segmenter
    (never a model an attack was trained against)."""
    x = check_images(x_adv, "x_adv")
    if layout.dim() != 3 or layout.shape[0] != x.shape[0] or tuple(layout.shape[1:]) != tuple(x.shape[2:]):
        raise InputError(
            f"layout must be (B, H, W) = ({x.shape[0]}, {x.shape[2]}, {x.shape[3]}); got {tuple(layout.shape)}"
        )
    if segmenter is None:
        from semadv.zoo import cached

        segmenter = cached("streets-judge")
    with torch.no_grad():
        agree = (segmenter(x).argmax(1) == layout).float().flatten(1).mean(1)
    return agree >= min_agreement


def inversion_errors(inv: Inversion, truth: torch.Tensor) -> dict[str, Any]:
    """Per-parameter mean absolute error (normalised units) of an inversion against true parameters."""
    w = FacesWorld()
    err = (inv.normalised - (truth - w.lo) / (w.hi - w.lo)).abs().mean(0)
    return {name: float(e) for name, e in zip(w.names, err, strict=True)}
