"""Benchmark (a): pixel PGD-L∞, 10 steps, 4-layer CNN, batch 64, 3×32×32, on this CPU.

Times semadv against torchattacks and a raw hand-written torch loop in one run (interleaved, median of
repeats) and prints the ratios. The CNN is randomly initialised and labels are its own predictions, so
every sample starts correctly classified. semadv is timed through the full ``Attack`` (re-verification
included) with early stopping off (identical work per step) and on (the default), with sanity checks off;
the checks' cost (one forward + one forward/backward) is reported separately.
"""

from __future__ import annotations

import statistics
import time

import torch
import torchattacks
from torch import nn

from semadv import PGD, Attack, Misclassification, PixelSpace

torch.set_num_threads(2)
EPS, ALPHA, STEPS, REPEATS = 8 / 255, 2 / 255, 10, 7


def cnn() -> nn.Module:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 10),
    ).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def raw_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    adv = x.clone()
    for _ in range(STEPS):
        adv.requires_grad_(True)
        loss = nn.functional.cross_entropy(model(adv), y)
        (g,) = torch.autograd.grad(loss, adv)
        adv = (x + (adv.detach() + ALPHA * g.sign() - x).clamp(-EPS, EPS)).clamp(0, 1)
    return adv


def main() -> None:
    model = cnn()
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x).argmax(1)
    goal = Misclassification()
    runs = {
        "raw torch loop": lambda: raw_loop(model, x, y),
        "torchattacks.PGD": lambda: torchattacks.PGD(model, eps=EPS, alpha=ALPHA, steps=STEPS, random_start=False)(
            x, y
        ),
        "semadv (no early stop)": lambda: Attack(
            goal, PixelSpace(eps=EPS), PGD(steps=STEPS, alpha=ALPHA, early_stop=False), checks=False
        )(model, x, y),
        "semadv (early stop, default)": lambda: Attack(
            goal, PixelSpace(eps=EPS), PGD(steps=STEPS, alpha=ALPHA), checks=False
        )(model, x, y),
        "semadv (early stop + sanity checks)": lambda: Attack(goal, PixelSpace(eps=EPS), PGD(steps=STEPS, alpha=ALPHA))(
            model, x, y
        ),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(REPEATS):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    r = Attack(goal, PixelSpace(eps=EPS), PGD(steps=STEPS, alpha=ALPHA), checks=False)(model, x, y)
    print(f"PGD-Linf eps=8/255 alpha=2/255 steps={STEPS}, batch 64x3x32x32, 4-conv CNN, {REPEATS} repeats (median)")
    print(f"semadv success rate {r.success_rate:.1%}, mean steps {r.steps.float().mean():.1f}")
    for k, v in med.items():
        print(f"  {k:38s} {v * 1000:8.1f} ms")
    ta, raw = med["torchattacks.PGD"], med["raw torch loop"]
    for k in (
        "semadv (no early stop)",
        "semadv (early stop, default)",
        "semadv (early stop + sanity checks)",
    ):
        print(f"  ratio {k:36s} / torchattacks = {med[k] / ta:5.3f}   / raw loop = {med[k] / raw:5.3f}")


if __name__ == "__main__":
    main()
