"""Zoo model for the Mitsuba 3 scene world: ``scene3d-cnn`` classifies the object (cube / pillar / slab).

Training data are renders of :class:`~semadv.worlds.scene3d.Scene3DWorld` (random pose, colour and sky);
needs the ``render3d`` extra to train or re-measure, not to load.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semadv.training import optimize
from semadv.zoo.registry import ZooEntry, register_model

N_TRAIN3D, N_TEST3D = 600, 150


class Scene3DNet(nn.Module):
    """A small CNN for 3×32×32 renders → 3 classes."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * w, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def renders(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` renders (class-balanced) and their labels."""
    from semadv.worlds.scene3d import Scene3DWorld

    w = Scene3DWorld()
    P = w.sample(n, seed=seed)
    with torch.no_grad():
        r = w.render(P)
    return r.image, r.extras["label"]


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        return {"accuracy": float((model(x).argmax(1) == y).float().mean())}


def _fit(model: nn.Module, seed: int) -> dict[str, Any]:
    x, y = renders(N_TRAIN3D, seed=100 + seed)
    g = torch.Generator().manual_seed(seed)
    ce = nn.CrossEntropyLoss()
    model.train()
    optimize(model.parameters(), lambda i: ce(model(x[i]), y[i]), len(y), 15, 32, g, 3e-3, one_cycle=True)
    return _accuracy(model, *renders(N_TEST3D, seed=999))


def _evaluate(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    return _accuracy(model, *renders(min(max(n, 30), N_TEST3D), seed=999))


register_model(
    ZooEntry(
        name="scene3d-cnn",
        description="object classifier (cube / pillar / slab) for Mitsuba 3 renders of the scene3d world",
        build=Scene3DNet,
        fit=_fit,
        evaluate=_evaluate,
        data=f"{N_TRAIN3D} scene3d renders (32x32, 16 spp, prb_projective), random pose, colour and sky; "
        f"test: {N_TEST3D} renders of seed 999",
        quick_metric="accuracy",
        tolerance=0.08,
    )
)
