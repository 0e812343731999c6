"""Victims from configs: zoo models or "bring your own" factories (imported by dotted path, never
evaluated), optional safetensors weights, declared input normalisation, optional ONNX via onnx2torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from semadv.campaign.config import ConfigError, VictimConfig
from semadv.errors import InputError


class Normalized(nn.Module):
    """Wrap a model that expects normalised inputs: images in [0, 1] → (x − mean) / std → model."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ConfigError(f"victim.mean/std must have equal length and std > 0; got mean={mean}, std={std}")
        self.model = model
        self.register_buffer("mean", torch.tensor(mean).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).reshape(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


#: modules a config may name without a trust decision: the package itself (zoo models, ONNX adapter …)
BUILTIN_TRUSTED = ("semadv",)


def is_trusted(module: str, trusted: Sequence[str] = ()) -> bool:
    """Is ``module`` one of ``trusted`` (or :data:`BUILTIN_TRUSTED`) or a submodule of one?"""
    return any(module == t or module.startswith(t + ".") for t in (*BUILTIN_TRUSTED, *trusted))


def import_object(path: str, trusted: Sequence[str] = ()) -> Callable[..., Any]:
    """``"package.module:attr.sub"`` → the object (``importlib``; no evaluation of strings).

    A config names code, so importing it is an explicit trust decision (as ``trust_remote_code`` is
    elsewhere): only modules in ``trusted`` (``semadv run --trust-module PKG``) or semadv's own are
    imported; anything else — the standard library included — is refused before it is imported."""
    mod_name, _, attr = path.partition(":")
    if not is_trusted(mod_name, trusted):
        top = mod_name.split(".")[0]
        raise ConfigError(
            f"victim.factory: module {mod_name!r} is not trusted; a config may only run code you trust "
            f"explicitly: add --trust-module {top} (Python: trust_modules=[{top!r}])"
        )
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as err:
        raise ConfigError(f"victim.factory: cannot import module {mod_name!r} ({err})") from err
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"victim.factory: {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"victim.factory: {path!r} is not callable")
    return obj


def build_victim(cfg: VictimConfig, trust_modules: Sequence[str] = ()) -> nn.Module:
    """The victim described by ``cfg``, in eval mode with frozen parameters. ``trust_modules``: packages
    whose factories the config may call (see :func:`import_object`)."""
    if cfg.zoo is not None:
        from semadv import zoo

        model = zoo.load(cfg.zoo)
    elif cfg.factory is not None:
        model = import_object(cfg.factory, trust_modules)(**cfg.kwargs)
        if not isinstance(model, nn.Module):
            raise ConfigError(f"victim.factory: {cfg.factory!r} returned {type(model).__name__}, not an nn.Module")
    else:
        raise ConfigError("victim: give zoo or factory")
    if cfg.weights is not None:
        from semadv.zoo.registry import load_weights

        try:
            load_weights(model, cfg.weights)
        except InputError as err:
            raise ConfigError(f"victim.weights: {err}") from err
    if cfg.mean is not None or cfg.std is not None:
        model = Normalized(model, cfg.mean or [0.0], cfg.std or [1.0])
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def onnx_model(path: str) -> nn.Module:
    """Factory for ONNX victims (``pip install semadv[onnx]``): converts with onnx2torch."""
    try:
        from onnx2torch import convert
    except ImportError as err:  # pragma: no cover - optional extra
        raise ConfigError("ONNX victims need the 'onnx' extra: pip install 'semadv[onnx]'") from err
    return convert(path)
