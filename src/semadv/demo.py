"""The demo: the main job on the embedded default — campaigns on the shipped zoo and worlds, one report.

``run_demo_campaigns`` runs every config in ``semadv/campaign/configs/demo_*.toml`` (except the shared
base) into ``out/<config>/`` (resuming if present) and writes ``out/report.html``. ``run_demo`` is the quick
in-process variant used by tests.
"""

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
    from semadv.training import optimize

    torch.manual_seed(seed)
    model.train()
    optimize(
        model.parameters(),
        lambda idx: nn.functional.cross_entropy(model(x[idx]), y[idx]),
        len(y),
        epochs,
        batch,
        torch.Generator().manual_seed(seed),
        lr,
    )
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


DEMO_CONFIGS = ("demo_pixel_pgd", "demo_pixel_fab", "demo_transform_pgd", "demo_transform_random", "demo_certify")


def run_demo_campaigns(out: str = "runs/demo", progress_factory=None):  # type: ignore[no-untyped-def]
    """Run the demo campaigns and build the report; returns (report path, list of run summaries)."""
    from pathlib import Path

    from semadv.campaign.config import load_config
    from semadv.campaign.runner import run_campaign
    from semadv.report import build_report, summarize_run

    cfg_dir = Path(__file__).parent / "campaign" / "configs"
    runs = []
    for name in DEMO_CONFIGS:
        cfg = load_config(cfg_dir / f"{name}.toml")
        progress = progress_factory(cfg.name) if progress_factory is not None else None
        runs.append(run_campaign(cfg, Path(out) / name, progress=progress))
    report = build_report(out, Path(out) / "report.html", title="semadv demo — digits victim, pixel vs semantic")
    return report, [summarize_run(r) for r in runs]
