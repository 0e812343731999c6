"""The one minibatch training loop used by every zoo recipe (and the demo's classifier)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def optimize(
    params: Iterable[nn.Parameter],
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    epochs: int,
    batch: int,
    generator: torch.Generator,
    lr: float,
    weight_decay: float | None = None,
    one_cycle: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
) -> None:
    """Minimise ``loss_of(indices)`` over seeded random minibatches of ``range(n)`` for ``epochs`` epochs.

    Adam (or AdamW when ``weight_decay`` is given), optionally with a one-cycle learning-rate schedule.
    Deterministic given the generator: each epoch draws one permutation from it, and ``loss_of`` may draw
    further numbers (augmentation, noise) from the same generator — or take its own optimiser steps on other
    parameters first (the discriminator of a GAN).
    """
    params = list(params)
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(params, lr=lr, betas=betas)
        if weight_decay is None
        else torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    )
    sched = (
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * ((n + batch - 1) // batch))
        if one_cycle
        else None
    )
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, batch):
            loss = loss_of(perm[i : i + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()


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
