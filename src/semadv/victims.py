"""Victim adapters: turn a face embedder into a classifier the engine can attack (DESIGN §2, Victim).

:class:`GalleryIdentifier` is seed 002's identification model: the class of an image is the gallery
identity whose embedding has the largest cosine similarity with the image's embedding (§4.1). Its
outputs are the scaled cosine similarities, so every classification goal, search and certificate in the
toolkit applies unchanged (cross-entropy over the gallery for PGD, logit margins for FAB).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from semadv.errors import InputError


def victim_dtype(victim: Callable[[torch.Tensor], torch.Tensor]) -> torch.dtype | None:
    """The floating dtype a torch victim computes in (its first floating parameter or buffer), or
    ``None`` when it cannot be told (a plain callable, a module without floating tensors)."""
    if isinstance(victim, nn.Module):
        for t in (*victim.parameters(), *victim.buffers()):
            if t.is_floating_point():
                return t.dtype
    return None


def match_dtype(victim: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, str | None]:
    """``x`` cast to the victim's dtype, with a warning saying so (``None`` when nothing was cast).

    A float64 or half batch fed to a float32 model is the usual case (images loaded with numpy
    defaults, AMP leftovers): torch would fail deep inside the first layer with a dtype mismatch."""
    want = victim_dtype(victim)
    if want is None or not x.is_floating_point() or x.dtype == want:
        return x, None
    return x.to(
        want
    ), f"input dtype {str(x.dtype).removeprefix('torch.')} cast to the victim's {str(want).removeprefix('torch.')}"


@torch.no_grad()
def embed_batched(
    embedder: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch: int = 512
) -> torch.Tensor:
    """Unit-norm embeddings (N, d) of ``images`` computed in batches without gradients."""
    if images.dim() != 4:
        raise InputError(f"images must be (N, C, H, W); got {tuple(images.shape)}")
    return torch.cat([F.normalize(embedder(images[i : i + batch]), dim=1) for i in range(0, len(images), batch)])


class GalleryIdentifier(nn.Module):
    """Identification against a gallery of ``G`` identities: logits ``scale · cos(M(x), gᵢ)`` (B, G).

    Args:
        embedder: image (B, C, H, W) → embedding (B, d); normalised here.
        gallery: (G, d) gallery embeddings (computed once, e.g. with :func:`embed_batched`).
        scale: logit scale (the usual ArcFace ``s``); it changes the cross-entropy's softness, not argmax.
    """

    gallery: torch.Tensor

    def __init__(self, embedder: nn.Module, gallery: torch.Tensor, scale: float = 30.0) -> None:
        super().__init__()
        if gallery.dim() != 2 or gallery.shape[0] < 2:
            raise InputError(f"gallery must be (G >= 2, d) embeddings; got {tuple(gallery.shape)}")
        if not float(scale) > 0:
            raise InputError(f"scale must be > 0; got {scale!r}")
        self.embedder = embedder
        self.register_buffer("gallery", F.normalize(gallery.detach().float(), dim=1))
        self.scale = float(scale)

    @property
    def size(self) -> int:
        return int(self.gallery.shape[0])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        e = F.normalize(self.embedder(images), dim=1)
        if e.shape[1] != self.gallery.shape[1]:
            raise InputError(f"embedding dim {e.shape[1]} does not match the gallery's {self.gallery.shape[1]}")
        return self.scale * e @ self.gallery.T

    def nearest_others(self, images: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
        """(B, k) the ``k`` most similar gallery identities other than ``labels`` (FAB's target classes)."""
        if not 1 <= k < self.size:
            raise InputError(f"k must be in [1, {self.size - 1}]; got {k}")
        with torch.no_grad():
            s = self(images)
        s = s.scatter(1, labels[:, None].long(), float("-inf"))
        return s.topk(k, dim=1).indices


class Stack(nn.Module):
    """Stacked outputs ``[victim(x) | attacker(x)]`` (B, K₁ + K₂) for goals that judge two models at once
    (seed 001's Type I goal :class:`~semadv.goals.typeone.KeepAndChange`: keep f1, change f2)."""

    def __init__(self, victim: nn.Module, attacker: nn.Module) -> None:
        super().__init__()
        self.victim, self.attacker = victim, attacker

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        v, a = self.victim(images), self.attacker(images)
        if v.dim() != 2 or a.dim() != 2 or v.shape[0] != a.shape[0]:
            raise InputError(
                f"victim and attacker must return (B, K) outputs; got {tuple(v.shape)} and {tuple(a.shape)}"
            )
        return torch.cat([v, a], dim=1)
