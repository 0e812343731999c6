"""Zoo registry: entries (architecture + trainer + metric), cards, safe loading and training."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from semadv.errors import InputError, RegistryError

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: ``build()`` → architecture; ``fit(model, seed)`` → metrics dict (trains in place);
    ``evaluate(model, n, seed)`` → a quick metric on a fresh small batch (for tests)."""

    name: str
    description: str
    build: Callable[[], nn.Module]
    fit: Callable[[nn.Module, int], dict[str, Any]]
    evaluate: Callable[[nn.Module, int, int], dict[str, float]]
    data: str
    quick_metric: str
    tolerance: float


@dataclass(frozen=True)
class ModelCard:
    name: str
    description: str
    reproduce: str
    seed: int
    data: str
    train_seconds: float
    metrics: dict[str, Any]
    sha256: str
    parameters: int
    torch_version: str
    extra: dict[str, Any] = field(default_factory=dict)


_ENTRIES: dict[str, ZooEntry] = {}


def register_model(entry: ZooEntry) -> ZooEntry:
    if entry.name in _ENTRIES:
        raise RegistryError(f"zoo model {entry.name!r} is already registered")
    _ENTRIES[entry.name] = entry
    return entry


def _load_all() -> None:
    import semadv.zoo.digits
    import semadv.zoo.faces
    import semadv.zoo.streets  # noqa: F401  (register their entries)


def entries() -> dict[str, ZooEntry]:
    _load_all()
    return dict(_ENTRIES)


def _entry(name: str) -> ZooEntry:
    e = entries()
    if name not in e:
        raise RegistryError(f"unknown zoo model {name!r}; available: {', '.join(sorted(e))}")
    return e[name]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def card(name: str, weights_dir: Path | None = None) -> ModelCard:
    """The model card of a shipped (or trained) model."""
    _entry(name)
    p = (weights_dir or WEIGHTS_DIR) / f"{name}.json"
    if not p.exists():
        raise RegistryError(f"zoo model {name!r} has no weights yet; run `semadv zoo train {name}`")
    return ModelCard(**json.loads(p.read_text()))


def load(name: str, weights_dir: Path | None = None) -> nn.Module:
    """Build ``name`` and load its safetensors weights after checking the SHA-256 against the card.
    Returns the model in eval mode with gradients of its parameters disabled."""
    entry = _entry(name)
    d = weights_dir or WEIGHTS_DIR
    c = card(name, d)
    w = d / f"{name}.safetensors"
    digest = sha256(w)
    if digest != c.sha256:
        raise InputError(f"SHA-256 of {w} is {digest}, the card says {c.sha256}: refusing to load")
    model = entry.build()
    model.load_state_dict(load_file(str(w)))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def train(name: str, seed: int = 0, weights_dir: Path | None = None) -> ModelCard:
    """Train ``name`` with its recipe, write ``NAME.safetensors`` and ``NAME.json``; deterministic by seed."""
    entry = _entry(name)
    torch.manual_seed(seed)
    model = entry.build()
    t0 = time.perf_counter()
    metrics = entry.fit(model, seed)
    seconds = time.perf_counter() - t0
    model.eval()
    d = weights_dir or WEIGHTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    w = d / f"{name}.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(w))
    c = ModelCard(
        name=name,
        description=entry.description,
        reproduce=f"semadv zoo train {name} --seed {seed}",
        seed=seed,
        data=entry.data,
        train_seconds=round(seconds, 1),
        metrics=metrics,
        sha256=sha256(w),
        parameters=sum(p.numel() for p in model.parameters()),
        torch_version=torch.__version__,
    )
    (d / f"{name}.json").write_text(json.dumps(asdict(c), indent=2))
    return c
