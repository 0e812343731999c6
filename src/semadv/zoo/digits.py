"""Digit models on scikit-learn's real digits (16×16): the demo CNN."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semadv.demo import TinyCNN, fit_classifier
from semadv.worlds.datasets import generate
from semadv.zoo.registry import ZooEntry, register_model


def _build_tinycnn() -> nn.Module:
    m = TinyCNN()
    m(torch.zeros(1, 1, 16, 16))  # materialise the lazy layer so state dicts load
    return m


def _fit(model: nn.Module, seed: int) -> dict[str, Any]:
    tr, te = generate("digits", "train", n=1348), generate("digits", "test", n=449)
    fit_classifier(model, tr["image"], tr["label"], epochs=15, seed=seed)
    return {"test_accuracy": _accuracy(model, te["image"], te["label"])}


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
