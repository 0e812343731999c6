"""Digit models on scikit-learn's real digits (16×16): the demo CNN, seed 001's victims (MLP f1, LeNet),
an independent judge of a different architecture, and the supervised VAE (seed 001 §III-A, Alg. 1)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semadv.training import fit_classifier, optimize
from semadv.worlds.datasets import generate
from semadv.zoo.nets import CVAE, MLP, SVAE, JudgeCNN, LeNet, TinyCNN
from semadv.zoo.registry import ZooEntry, register_model


def _build_tinycnn() -> nn.Module:
    m = TinyCNN()
    m(torch.zeros(1, 1, 16, 16))  # materialise the lazy layer so state dicts load
    return m


def _augment(x: torch.Tensor, y: torch.Tensor, copies: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ±1 pixel shifts of the training digits (the real set has only 1,348 images)."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = [x], [y]
    for _ in range(copies):
        dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=g))
        xs.append(torch.roll(x, shifts=(dy, dx), dims=(2, 3)))
        ys.append(y)
    return torch.cat(xs), torch.cat(ys)


def _classifier_fit(epochs: int, copies: int = 0, lr: float = 3e-3):  # type: ignore[no-untyped-def]
    def fit(model: nn.Module, seed: int) -> dict[str, Any]:
        tr, te = generate("digits", "train", n=1348), generate("digits", "test", n=449)
        x, y = _augment(tr["image"], tr["label"], copies, seed) if copies else (tr["image"], tr["label"])
        fit_classifier(model, x, y, epochs=epochs, seed=seed, lr=lr)
        return {"test_accuracy": _accuracy(model, te["image"], te["label"])}

    return fit


_fit = _classifier_fit(15)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def _evaluate(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    te = generate("digits", "test", n=449)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(449, generator=g)[:n]
    return {"test_accuracy": _accuracy(model, te["image"][idx], te["label"][idx])}


register_model(
    ZooEntry(
        name="digits-tinycnn",
        description="3-conv CNN on sklearn digits 16×16 (demo and test victim)",
        build=_build_tinycnn,
        fit=_fit,
        evaluate=_evaluate,
        data="sklearn digits, train split (1348), bilinear 16×16, seed-0 permutation",
        quick_metric="test_accuracy",
        tolerance=0.05,
    )
)


def _lazy(m: nn.Module) -> nn.Module:
    m(torch.zeros(1, 1, 16, 16))
    return m


for _name, _desc, _build, _fit_fn in (
    ("digits-mlp", "seed 001's f1: MLP with 128 hidden units on 16×16 digits", lambda: MLP(), _classifier_fit(40, 3)),
    (
        "digits-lenet",
        "LeNet-5-style CNN on 16×16 digits (seed 001's second victim)",
        lambda: LeNet(),
        _classifier_fit(30, 3),
    ),
    (
        "digits-judge",
        "independent digit judge: GroupNorm CNN with global pooling (an architecture no victim uses)",
        lambda: JudgeCNN(),
        _classifier_fit(20, 3),
    ),
):
    register_model(
        ZooEntry(
            name=_name,
            description=_desc,
            build=_build,
            fit=_fit_fn,
            evaluate=_evaluate,
            data="sklearn digits, train split (1348) + 3 shifted copies, 16×16",
            quick_metric="test_accuracy",
            tolerance=0.05,
        )
    )


def _fit_svae(model: nn.Module, seed: int) -> dict[str, Any]:
    """Alg. 1 of seed 001: stage 1 trains encoder, decoder and f2 on Eq. (6) (+ reconstruction); stage 2
    trains only the discriminator on Eq. (7)."""
    if not isinstance(model, SVAE):
        raise TypeError(f"expected an SVAE; got {type(model).__name__}")
    tr = generate("digits", "train", n=1348)
    x, y = _augment(tr["image"], tr["label"], 3, seed)
    g = torch.Generator().manual_seed(seed)
    params1 = [p for n, p in model.named_parameters() if not n.startswith("dis.")]
    model.train()
    optimize(params1, lambda idx: model.stage1_loss(x[idx], y[idx], g)[0], len(y), 60, 128, g, 2e-3)
    optimize(model.dis.parameters(), lambda idx: model.stage2_loss(x[idx], g), len(y), 30, 128, g, 1e-3)
    return _svae_metrics(model, 449, 0)


def _svae_metrics(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    if not isinstance(model, SVAE):
        raise TypeError(f"expected an SVAE; got {type(model).__name__}")
    te = generate("digits", "test", n=449)
    idx = torch.randperm(449, generator=torch.Generator().manual_seed(seed))[:n]
    x, y = te["image"][idx], te["label"][idx]
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(x)
        acc = float((model.f2(mu).argmax(1) == y).float().mean())
        mse = float(((model.decode(mu) - x) ** 2).mean())
        z_fake = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed + 1))
        dis_acc = float(torch.cat([model.dis(mu)[:, 0] > 0, model.dis(z_fake)[:, 0] <= 0]).float().mean())
    return {"f2_accuracy": acc, "reconstruction_mse": mse, "discriminator_accuracy": dis_acc}


register_model(
    ZooEntry(
        name="digits-svae",
        description="supervised VAE (seed 001 Alg. 1): encoder, decoder, latent classifier f2, "
        "latent discriminator; latent 16",
        build=lambda: SVAE(),
        fit=_fit_svae,
        evaluate=_svae_metrics,
        data="sklearn digits, train split (1348) + 3 shifted copies, 16×16",
        quick_metric="f2_accuracy",
        tolerance=0.06,
    )
)


def _fit_cvae(model: nn.Module, seed: int) -> dict[str, Any]:
    if not isinstance(model, CVAE):
        raise TypeError(f"expected a CVAE; got {type(model).__name__}")
    tr = generate("digits", "train", n=1348)
    x, y = _augment(tr["image"], tr["label"], 3, seed)
    g = torch.Generator().manual_seed(seed)
    model.train()
    optimize(model.parameters(), lambda idx: model.loss(x[idx], y[idx], g), len(y), 50, 128, g, 2e-3)
    return _cvae_metrics(model, 449, 0)


def _cvae_metrics(model: nn.Module, n: int, seed: int) -> dict[str, float]:
    """Auxiliary-classifier test accuracy, and class consistency of samples as judged by the independent
    digit judge (``digits-judge``)."""
    if not isinstance(model, CVAE):
        raise TypeError(f"expected a CVAE; got {type(model).__name__}")
    from semadv.zoo.registry import load

    te = generate("digits", "test", n=449)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(449, generator=g)[:n]
    model.eval()
    judge = load("digits-judge")
    with torch.no_grad():
        aux = float((model(te["image"][idx]).argmax(1) == te["label"][idx]).float().mean())
        y = torch.arange(n) % 10
        samples = model.generate(torch.randn(n, model.latent, generator=g), y)
        judged = float((judge(samples).argmax(1) == y).float().mean())
    return {"aux_accuracy": aux, "judge_class_consistency": judged}


register_model(
    ZooEntry(
        name="digits-cvae",
        description="class-conditional digit generator (CVAE) with an auxiliary LeNet classifier, latent 16",
        build=lambda: CVAE(),
        fit=_fit_cvae,
        evaluate=_cvae_metrics,
        data="sklearn digits, train split (1348) + 3 shifted copies, 16×16",
        quick_metric="aux_accuracy",
        tolerance=0.06,
    )
)
