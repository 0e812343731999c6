"""The first end-to-end demo: a tiny digits classifier attacked in pixel space and in transform space."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from semadv.attack import Attack
from semadv.goals import Misclassification
from semadv.search import PGD, RandomSearch
from semadv.spaces import PixelSpace, TransformSpace
from semadv.types import AttackResult
from semadv.worlds import load_digits


class TinyCNN(nn.Module):
    """A 3-layer CNN for 1×16×16 digits (a victim for demos and tests)."""

    def __init__(self, channels: int = 1, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.LazyLinear(classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fit_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 15,
    seed: int = 0,
    lr: float = 3e-3,
    batch: int = 64,
) -> nn.Module:
    """Train a classifier with Adam and cross-entropy (seeded shuffling); returns it in eval mode."""
    torch.manual_seed(seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch):
            idx = perm[i : i + batch]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def train_digits_classifier(
    seed: int = 0, epochs: int = 15, size: int = 16
) -> tuple[nn.Module, torch.Tensor, torch.Tensor, float]:
    """Train :class:`TinyCNN` on the digits training split (seconds on a CPU).

    Returns the model (eval mode, parameters frozen), the test images and labels, and the test accuracy.
    """

    torch.manual_seed(seed)
    xtr, ytr, xte, yte = load_digits(size=size, seed=seed)
    model = TinyCNN()
    model(xtr[:1])  # materialise the lazy layer
    fit_classifier(model, xtr, ytr, epochs=epochs, seed=seed)
    for prm in model.parameters():
        prm.requires_grad_(False)
    with torch.no_grad():
        acc = float((model(xte).argmax(1) == yte).float().mean())
    return model, xte, yte, acc


@dataclass(frozen=True)
class DemoRow:
    name: str
    result: AttackResult


def run_demo(n: int = 200, seed: int = 0) -> tuple[float, float, list[DemoRow]]:
    """Train the classifier, then attack ``n`` test digits three ways. Returns (accuracy, train seconds, rows)."""

    t0 = time.perf_counter()
    model, xte, yte, acc = train_digits_classifier(seed=seed)
    train_s = time.perf_counter() - t0
    x, y = xte[:n], yte[:n]
    goal = Misclassification()
    g = torch.Generator().manual_seed(seed)
    transforms = TransformSpace(
        rotation=(-25.0, 25.0),
        scale=(0.8, 1.2),
        translate_x=(-0.12, 0.12),
        translate_y=(-0.12, 0.12),
        brightness=(-0.2, 0.2),
        contrast=(0.6, 1.4),
        blur=(0.0, 1.0),
    )
    attacks = {
        "pixel PGD-Linf eps=0.1": Attack(goal, PixelSpace(eps=0.1), PGD(steps=20, alpha=0.02)),
        "pixel PGD-L2 eps=1.0": Attack(goal, PixelSpace(eps=1.0, p=2), PGD(steps=20, alpha=0.2)),
        "transform PGD (rot/scale/shift/photo/blur)": Attack(goal, transforms, PGD(steps=20, alpha=0.1, restarts=3)),
        "transform random search (same space)": Attack(goal, transforms, RandomSearch(samples=60)),
    }
    rows = [DemoRow(name, atk(model, x, y, generator=g)) for name, atk in attacks.items()]
    return acc, train_s, rows
