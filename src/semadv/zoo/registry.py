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
    #: store the weights as float16 (loaded back into float32 parameters) to keep the zoo small
    half: bool = False


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

#: registered models whose weights are not shipped yet (their recipes exist; train them with
#: ``semadv zoo train NAME`` on an otherwise idle machine, then remove them from this set)
PENDING: frozenset[str] = frozenset()


def register_model(entry: ZooEntry) -> ZooEntry:
    if entry.name in _ENTRIES:
        raise RegistryError(f"zoo model {entry.name!r} is already registered")
    _ENTRIES[entry.name] = entry
    return entry


def _load_all() -> None:
    import semadv.zoo.digits
    import semadv.zoo.faces
    import semadv.zoo.oracles
    import semadv.zoo.scene3d
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
    try:
        raw = json.loads(p.read_text())
        return ModelCard(**raw)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as err:
        raise InputError(f"zoo card {p} is corrupt ({err}); retrain with `semadv zoo train {name}`") from err


_CACHE: dict[str, nn.Module] = {}


def cached(name: str) -> nn.Module:
    """``load(name)`` once per process (SHA-checked, eval mode, no parameter gradients); for read-only use."""
    if name not in _CACHE:
        _CACHE[name] = load(name).requires_grad_(False)
    return _CACHE[name]


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a safetensors state dict into ``model`` in place (never unpickles).

    Raises :class:`InputError` naming the file for a file that is not safetensors and for any key or
    shape that does not match the model (instead of torch's multi-line ``RuntimeError``)."""
    from safetensors import SafetensorError

    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise InputError(f"cannot read safetensors file {str(path)!r} ({err})") from err
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise InputError(
            f"{str(path)!r}: weights do not match the model (missing keys {missing[:3]}, unexpected {unexpected[:3]})"
        )
    shapes = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items() if state[k].shape != v.shape]
    if shapes:
        k, got, want = shapes[0]
        raise InputError(
            f"{str(path)!r}: {len(shapes)} tensor(s) have the wrong shape, e.g. {k} is {got}, the model wants {want}"
        )
    model.load_state_dict(state)
    return model


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
    load_weights(model, w)
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
    state = model.state_dict()
    save_file(
        {k: (v.half() if entry.half and v.is_floating_point() else v).detach().contiguous() for k, v in state.items()},
        str(w),
    )
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


def results_page() -> str:
    """Markdown table of every shipped model's card (for ``docs/results/zoo.md``; generated, not typed)."""
    lines = [
        "# Model zoo results",
        "",
        "Generated by `semadv zoo list --markdown docs/results/zoo.md` from the model cards.",
        "",
        "| model | description | metrics | parameters | train s | SHA-256 | reproduce |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted(entries()):
        try:
            c = card(name)
        except RegistryError:
            lines.append(f"| {name} | {_entry(name).description} | (no weights) | | | | `semadv zoo train {name}` |")
            continue
        metrics = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in c.metrics.items())
        lines.append(
            f"| {name} | {c.description} | {metrics} | {c.parameters:,} | {c.train_seconds:.0f} | "
            f"`{c.sha256[:12]}` | `{c.reproduce}` |"
        )
    return "\n".join(lines) + "\n"
